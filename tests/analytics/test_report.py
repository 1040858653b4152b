"""`streamer report`: index.html links every chart and table it wrote, each table is the SQL
result its chart was drawn from; an empty or partial lake gets a page saying what is missing;
bad arguments exit 2 with a message naming them."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest

from streamer.analytics import connect
from streamer.analytics import report as report_module
from streamer.cli import main
from streamer.jsonline import encode
from streamer.records import Dec, Millis, Trade
from streamer.schema import DATASET_OF_TYPE
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink
from tests.analytics.test_queries import same

DERIVATIVES = ("funding", "open_interest", "mark_basis", "liquidations")
"""The derivatives page's files (test_derivatives_report.py)."""
COMPLETENESS = ("completeness_",)
"""The completeness page's files (test_completeness.py)."""


def links(page: str) -> set[str]:
    return set(re.findall(r'href="([^"#]+)"', page))


def images(page: str) -> list[str]:
    return re.findall(r'<img[^>]* src="([^"]+)"', page)


def written(out: Path) -> set[str]:
    return {p.name for p in out.iterdir() if p.suffix in (".png", ".csv")}


@pytest.fixture(scope="module")
def report(pipeline_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--lake", str(pipeline_lake), "--out", str(out), "--bar", "2m"]) == 0
    return out


def test_the_page_links_every_chart_and_table_written(report: Path) -> None:
    page = (report / "index.html").read_text()
    mine = {p for p in written(report) if not p.startswith(DERIVATIVES + COMPLETENESS)}
    assert links(page) == mine | {"derivatives.html", "completeness.html"}
    pngs = {p for p in mine if p.endswith(".png")}
    assert {"book.png", "basis.png", "volume.png", "market_caps.png", "health.png",
            "candles_binance_BTC-USDT.png", "candles_binance_ETH-USDT.png",
            "candles_binance_usdm_BTC-USDT-PERP.png",
            "candles_binance_usdm_ETH-USDT-PERP.png",
            "candles_okx_BTC-USDT.png", "candles_okx_BTC-USDT-PERP.png",
            "candles_kraken_BTC-USD.png", "candles_kraken_ETH-USD.png"} == pngs  # fmt: skip
    for png in pngs:
        assert (report / png).read_bytes().startswith(b"\x89PNG")
    embedded = images(page)  # the page alone shows every chart: no image is fetched
    assert len(embedded) == len(pngs)
    assert all(src.startswith("data:image/png;base64,") for src in embedded)
    assert {base64.b64decode(src.partition(",")[2]) for src in embedded} == {
        (report / png).read_bytes() for png in pngs
    }
    assert "coinbase: its 5m candles cannot make 2m bars" in page


def test_each_table_is_its_query_result(report: Path, pipeline_lake: Path) -> None:
    db = connect(lake=pipeline_lake)
    expected = {
        "candles_binance.csv": db.candles("2m", "1m", "binance"),
        "book.csv": db.book_top("2m"),
        "basis.csv": db.basis("2m"),
        "volume.csv": db.volume_by_side("2m"),
        "market_caps.csv": db.top_market_caps(10),
        "health_rows.csv": db.rows_per_hour(),
        "health_rejects.csv": db.rejects(),
        "health_origins.csv": db.candle_origins(),
    }
    for name, frame in expected.items():
        times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
        table = pd.read_csv(report / name, parse_dates=times, keep_default_na=False,
                            na_values=[""])  # fmt: skip
        for column in frame.columns:
            if pd.api.types.is_float_dtype(frame[column]):
                table[column] = table[column].astype("float64")
        same(table, frame)


def test_each_exchange_and_chart_gets_the_bar_its_own_data_fits(
    pipeline_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--lake", str(pipeline_lake), "--out", str(tmp_path)]) == 0
    assert {"candles_binance.csv", "candles_coinbase.csv"} <= written(tmp_path)
    db = connect(lake=pipeline_lake)
    chosen = report_module.candle_bars(db.intervals())
    # Binance's 1m candles are not coarsened to Coinbase's 5m: each its own bar
    assert chosen["binance"][:2] == ("1m", 60) and chosen["coinbase"][:2] == ("5m", 300)
    for exchange, (_, _, seconds) in chosen.items():
        starts = pd.read_csv(tmp_path / f"candles_{exchange}.csv", parse_dates=["bar_start"])
        assert set(starts["bar_start"].diff().dropna().dt.total_seconds() % seconds) == {0}
    span = db.intervals().query("exchange == 'binance' and interval == '1m'")
    minutes = (span["last_open"].max() - span["first_open"].min()).total_seconds() / 60 + 1
    assert minutes / (chosen["binance"][2] / 60) <= 150  # at most about 150 bars
    page = (tmp_path / "index.html").read_text()
    assert "bars: <b>chosen per chart from the data</b>" in page
    err = capsys.readouterr().err
    assert "query candles ..." in err and re.search(r"query candles: \d+ rows in", err)
    assert err.rstrip().splitlines()[-1].endswith(f"charts in {tmp_path / 'index.html'}")


def test_an_empty_lake_gets_a_page_saying_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake, out = tmp_path / "lake", tmp_path / "out"
    (lake / "crypto" / "tabular").mkdir(parents=True)  # a lake nothing was written to yet
    assert main(["report", "--lake", str(lake), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert written(out) == set()
    assert "Missing from this report" in page
    for needed in ("crypto_ohlcv", "crypto_order_books", "crypto_trades", "crypto_markets",
                   "the lake has no rows"):  # fmt: skip
        assert needed in page
    assert "Traceback" not in capsys.readouterr().err


async def test_a_lake_of_trades_only_charts_the_trades(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path / "lake"))
    t0 = 1_764_000_000_000
    for i, (exchange, symbol) in enumerate([("binance", "BTC-USDT"), ("coinbase", "BTC-USD")]):
        trade = Trade(exchange, symbol, Millis(t0 + i), Millis(t0 + i), str(i), Dec("86000.5"),
                      Dec("0.25"), "sell", f"r{i}")  # fmt: skip
        sink.add(DATASET_OF_TYPE[Trade], encode(trade), Millis(t0))
    await sink.aclose()
    out = tmp_path / "out"
    assert main(["report", "--lake", str(tmp_path / "lake"), "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert {"volume.png", "basis.png", "health.png"} <= written(out)
    assert "no rows for closed candles (crypto_ohlcv) in the whole lake" in page
    empty = (
        "crypto_book_updates, crypto_derivative_tickers, crypto_funding_rates, "
        "crypto_instruments, crypto_liquidations, crypto_markets, crypto_ohlcv, "
        "crypto_open_interest, crypto_order_books"
    )
    assert f"no rows in: {empty}" in page
    volume = pd.read_csv(out / "volume.csv")
    assert volume["quote_volume"].tolist() == [86000.5 * 0.25] * 2


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "last tuesday"], "--since"),
        (["--since", "2025-11-25", "--until", "2025-11-24"], "--since"),
        (["--bar", "7 parsecs"], "--bar"),
        (["--symbols", "BTC/USDT"], "--symbols"),
        (["--top", "0"], "--top"),
        (["--lake", "/nonexistent/lake"], "--lake"),
        (["--engine", "athena"], "STREAMER_ATHENA_WORKGROUP"),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("STREAMER_ATHENA_WORKGROUP", raising=False)
    base = ["report", "--lake", str(tmp_path), "--out", str(tmp_path / "out")]
    assert main([*base, *args]) == 2
    err = capsys.readouterr().err
    assert f"configuration error: {named}" in err and "Traceback" not in err


def test_a_filter_that_matches_nothing_says_so_per_chart(
    pipeline_lake: Path, tmp_path: Path
) -> None:
    args = [
        "report",
        "--lake",
        str(pipeline_lake),
        "--out",
        str(tmp_path),
        "--symbols",
        "DOGE-USDT",
    ]
    assert main(args) == 0
    page = (tmp_path / "index.html").read_text()
    for needs in ("closed candles (crypto_ohlcv)", "crypto_order_books", "crypto_trades"):
        assert f"no rows for {needs} for DOGE-USDT in the whole lake" in page
    assert "<img" not in page.split('id="market_caps"')[0]  # no empty chart for DOGE
