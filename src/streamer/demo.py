"""`streamer demo`: the simulator, the real clients and the local lake on loopback, then SQL."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from streamer import query
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues import VENUES

log = logging.getLogger(__name__)

RARE = frozenset({"crypto_liquidations"})
"""Tables a short run may leave empty: the simulated market liquidates in bursts minutes apart."""

EXAMPLES = (
    (
        "Latest trade price per exchange and symbol",
        "SELECT exchange, symbol, arg_max(price, event_time) AS last_price, count(*) AS trades\n"
        "FROM crypto_trades GROUP BY ALL ORDER BY ALL",
    ),
    (
        "One coin on every venue: its last trade price, spot and perpetual side by side",
        "PIVOT (SELECT split_part(symbol, '-', 1) AS coin, price, event_time,\n"
        "         exchange || if(symbol LIKE '%-PERP', ' perp', '') AS market FROM crypto_trades)\n"
        "ON market USING arg_max(price, event_time) GROUP BY coin ORDER BY coin",
    ),
    (
        "Closed candles, newest first",
        "SELECT exchange, symbol, interval, open_time, open, high, low, close, volume\n"
        "FROM crypto_ohlcv WHERE is_closed ORDER BY open_time DESC, exchange, symbol LIMIT 6",
    ),
    (
        "Bid/ask spread from the latest order-book snapshot",
        "SELECT exchange, symbol, arg_max(asks[1].price - bids[1].price, event_time) AS spread,\n"
        "       arg_max(len(bids), event_time) AS levels\n"
        "FROM crypto_order_books GROUP BY ALL ORDER BY ALL",
    ),
    (
        "Full-depth books: level changes (book_updates), replayable into every book",
        "SELECT exchange, symbol, count(*) FILTER (WHERE is_snapshot) AS snapshot_levels,\n"
        "       count(*) FILTER (WHERE NOT is_snapshot) AS level_changes\n"
        "FROM crypto_book_updates GROUP BY ALL ORDER BY ALL",
    ),
    (
        "Top of the market-cap table",
        "SELECT market_cap_rank, coin_id, price, market_cap, max_supply\n"
        "FROM crypto_markets QUALIFY row_number() OVER (PARTITION BY coin_id\n"
        "  ORDER BY received_at DESC) = 1 ORDER BY market_cap_rank LIMIT 5",
    ),
    (
        "Perpetuals: latest mark, index and predicted funding (derivative_tickers)",
        "SELECT exchange, symbol, arg_max(mark_price, event_time) AS mark_price,\n"
        "       arg_max(index_price, event_time) AS index_price,\n"
        "       arg_max(funding_rate, event_time) AS predicted_funding,\n"
        "       arg_max(next_funding_time, event_time) AS next_funding\n"
        "FROM crypto_derivative_tickers GROUP BY ALL ORDER BY ALL",
    ),
    (
        "Liquidations by side (buy: shorts closed, sell: longs closed; contracts at their size)",
        "SELECT exchange, symbol, side, count(*) AS orders, round(sum(CAST(filled_quantity\n"
        "       AS DOUBLE) * coalesce(size, 1) * CAST(price AS DOUBLE)), 2) AS notional\n"
        "FROM crypto_liquidations LEFT JOIN (SELECT exchange, symbol, CAST(arg_max(\n"
        "  contract_size, event_time) AS DOUBLE) AS size FROM crypto_instruments GROUP BY ALL)\n"
        "  USING (exchange, symbol) GROUP BY ALL ORDER BY ALL",
    ),
    (
        "Aggregated spot prices (usd, eur, btc)",
        "SELECT coin_id, vs_currency, arg_max(price, received_at) AS price\n"
        "FROM crypto_spot_prices GROUP BY ALL ORDER BY ALL",
    ),
    (
        "What each venue received, wrote and lost (the quality table; `streamer audit` proves a "
        "day)",
        "SELECT exchange, sum(messages) AS frames, sum(rows) AS rows, sum(rejects) AS rejects,\n"
        "       sum(len(gaps)) AS holes_found, sum(backfilled) AS backfilled,\n"
        "       sum(len(unrecoverable)) AS holes_lost, sum(resyncs_sequence_break\n"
        "       + resyncs_checksum_mismatch + resyncs_venue_reset) AS book_resyncs,\n"
        "       round(sum(disconnected_ms) / 1000, 1) AS seconds_down\n"
        "FROM crypto_quality GROUP BY ALL ORDER BY ALL",
    ),
)


async def run_demo(seconds: float, lake: Path, lake_format: str = "json") -> int:
    config = SimulatorConfig(host="127.0.0.1", port=0)
    async with Simulator(config) as sim:
        env = sim.environment()
        env.update(
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="5",
            STREAMER_LAKE_FORMAT=lake_format,
            STREAMER_STATS_INTERVAL="10",
            # every venue the simulator serves, those off by default (Binance USD-M) too
            STREAMER_SOURCES=",".join(spec.name for spec in VENUES if spec.simulator),
        )
        for spec in VENUES:  # faster candles and polls, full books
            env.update(spec.demo)
        settings = load(env)
        print(f"streamer demo: simulator on 127.0.0.1:{sim.port}; streaming {seconds:g} s "
              f"into {lake}/ ({lake_format}) ...", flush=True)  # fmt: skip
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(seconds, stop.set)
        stats = await run_service(settings, stop)
    if stats.failed_sources:
        print(f"streamer demo: failed sources: {stats.failed_sources}")
    print("\nRows per table:")
    counts = query.table_counts(lake)
    print(query.format_table(["table", "rows"], sorted(counts.items())))
    for title, sql in EXAMPLES:
        print(f"\n-- {title}\n{sql};")
        names, rows = query.run(lake, sql)
        print(query.format_table(names, rows))
    print(f'\nTry your own: streamer query "SELECT * FROM crypto_trades LIMIT 5" --lake {lake}')
    return 0 if all(n for table, n in counts.items() if table not in RARE) else 1
