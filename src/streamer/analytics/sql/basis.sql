-- Cross-venue basis per coin in bars: the last Binance <BASE>-USDT and Coinbase <BASE>-USD trade prices (ties in time: the greater trade id) and CoinGecko's USD price, and their differences in basis points.
WITH trades AS (
  SELECT DISTINCT
    record_id,
    exchange,
    split_part(symbol, '-', 1) AS base,
    split_part(symbol, '-', 2) AS quote,
    event_time,
    trade_id,
    price,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', event_time) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_trades
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND event_time >= CAST(:since AS TIMESTAMP)
    AND event_time < CAST(:until AS TIMESTAMP)
    AND exchange IN ('binance', 'coinbase')
),
ranked AS (
  SELECT
    exchange,
    base,
    bar_epoch,
    price,
    row_number() OVER (PARTITION BY exchange, base, bar_epoch ORDER BY event_time DESC, trade_id DESC) AS newest
  FROM trades
  WHERE ((exchange = 'binance' AND quote = 'USDT') OR (exchange = 'coinbase' AND quote = 'USD'))
    AND (:bases = '' OR strpos(concat(',', :bases, ','), concat(',', base, ',')) > 0)
),
venue_bars AS (
  SELECT exchange, base, bar_epoch, CAST(price AS DOUBLE) AS price
  FROM ranked
  WHERE newest = 1
),
coins AS (
  SELECT DISTINCT coin_id, upper(symbol) AS base
  FROM crypto_markets
  WHERE year BETWEEN :from_year AND :to_year
    AND concat(year, month, day, hour) BETWEEN :from_hour AND :to_hour
    AND received_at >= CAST(:since AS TIMESTAMP)
    AND received_at < CAST(:until AS TIMESTAMP)
),
gecko AS (
  SELECT
    coins.base,
    spot.price,
    spot.received_at,
    CAST(floor(date_diff('second', TIMESTAMP '1970-01-01 00:00:00', spot.received_at) / CAST(:bar_seconds AS DOUBLE)) AS BIGINT) * :bar_seconds AS bar_epoch
  FROM crypto_spot_prices AS spot
  JOIN coins ON coins.coin_id = spot.coin_id
  WHERE spot.year BETWEEN :from_year AND :to_year
    AND concat(spot.year, spot.month, spot.day, spot.hour) BETWEEN :from_hour AND :to_hour
    AND spot.received_at >= CAST(:since AS TIMESTAMP)
    AND spot.received_at < CAST(:until AS TIMESTAMP)
    AND spot.vs_currency = 'usd'
    AND spot.price IS NOT NULL
),
gecko_bars AS (
  SELECT base, bar_epoch, CAST(max_by(price, received_at) AS DOUBLE) AS price
  FROM gecko
  GROUP BY base, bar_epoch
),
bars AS (
  SELECT base, bar_epoch FROM venue_bars
  UNION
  SELECT base, bar_epoch FROM gecko_bars WHERE base IN (SELECT base FROM venue_bars)
)
SELECT
  bars.base,
  TIMESTAMP '1970-01-01 00:00:00' + INTERVAL '1' SECOND * bars.bar_epoch AS bar_start,
  binance.price AS binance_usdt,
  coinbase.price AS coinbase_usd,
  gecko_bars.price AS coingecko_usd,
  (coinbase.price / binance.price - 1) * 10000 AS coinbase_vs_binance_bps,
  (binance.price / gecko_bars.price - 1) * 10000 AS binance_vs_coingecko_bps,
  (coinbase.price / gecko_bars.price - 1) * 10000 AS coinbase_vs_coingecko_bps
FROM bars
LEFT JOIN venue_bars AS binance
  ON binance.base = bars.base AND binance.bar_epoch = bars.bar_epoch AND binance.exchange = 'binance'
LEFT JOIN venue_bars AS coinbase
  ON coinbase.base = bars.base AND coinbase.bar_epoch = bars.bar_epoch AND coinbase.exchange = 'coinbase'
LEFT JOIN gecko_bars
  ON gecko_bars.base = bars.base AND gecko_bars.bar_epoch = bars.bar_epoch
ORDER BY bars.base, bar_start
