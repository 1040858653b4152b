"""`streamer report`'s derivatives page: linked from index.html and back; each chart's CSV is
its query's result (on the simulated lake, and on known rows for open interest and settled
funding, which equal what the rows imply); absent data is named per section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamer.analytics import connect
from streamer.analytics import derivative_charts as charts
from streamer.cli import main
from tests.analytics.test_derivative_queries import FUNDING, PERP, T0, known_lake
from tests.analytics.test_queries import same
from tests.analytics.test_report import COMPLETENESS, images, links, written


def read(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    table = pd.read_csv(path, parse_dates=times, keep_default_na=False, na_values=[""])
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            table[column] = table[column].astype("float64")
    return table


@pytest.fixture(scope="module")
def report(pipeline_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--lake", str(pipeline_lake), "--out", str(out), "--bar", "2m"]) == 0
    return out


def test_the_pages_link_each_other_and_every_file_written(report: Path) -> None:
    index = (report / "index.html").read_text()
    page = (report / "derivatives.html").read_text()
    assert "derivatives.html" in links(index) and "index.html" in links(page)
    theirs = {p for p in written(report) if not p.startswith(COMPLETENESS)}
    pages = {"index.html", "derivatives.html", "completeness.html"}
    assert links(index) | links(page) == theirs | pages
    charts = {"funding.png", "open_interest.png", "mark_basis.png", "liquidations.png"}
    assert charts <= written(report)
    assert len(images(page)) == len(charts)
    for section in ("Funding rates", "Open interest", "Mark against index", "Liquidations"):
        assert f">{section}</h2>" in page


def test_each_derivatives_table_is_its_query_result(report: Path, pipeline_lake: Path) -> None:
    db = connect(lake=pipeline_lake)
    expected = {
        "funding_predicted.csv": db.funding_predicted("2m"),
        "mark_basis.csv": db.mark_basis("2m"),
        "liquidations.csv": db.liquidations("2m"),
    }
    for name, frame in expected.items():
        same(read(report / name, frame), frame)


async def test_known_rows_chart_what_they_imply(tmp_path: Path) -> None:
    await known_lake(tmp_path / "lake")
    out = tmp_path / "out"
    assert main(["report", "--lake", str(tmp_path / "lake"), "--out", str(out), "--bar", "1m"]) == 0
    assert {"funding.png", "open_interest.png", "mark_basis.png", "liquidations.png"} <= written(
        out
    )
    interest = pd.read_csv(out / "open_interest.csv")
    btc = interest[interest["symbol"] == PERP]
    assert btc["open_interest"].tolist() == [12.5, 11.0]
    assert btc["open_interest_quote"].tolist() == [12.5 * 101, 11.0 * 102]
    settled = pd.read_csv(out / "funding_settled.csv", parse_dates=["funding_time"])
    assert settled["funding_time"].tolist()[-1] == pd.Timestamp(FUNDING + 3, unit="ms")
    assert settled["funding_rate"].tolist() == [0.0001, 0.00025]
    assert settled["last_predicted"].tolist()[-1] == pytest.approx(0.0003)
    page = (out / "derivatives.html").read_text()
    assert "Missing from this report" not in page


def test_the_funding_chart_draws_rates_in_percent_at_their_times() -> None:
    bar = pd.Timestamp(T0, unit="ms")
    predicted = pd.DataFrame({"exchange": ["v"] * 2, "symbol": [PERP] * 2,
                              "bar_start": [bar, bar + pd.Timedelta(minutes=1)],
                              "funding_rate": [0.0001, 0.0003]})  # fmt: skip
    settled = pd.DataFrame({"exchange": ["v"], "symbol": [PERP],
                            "funding_time": [bar + pd.Timedelta(minutes=3)],
                            "funding_rate": [0.00025], "last_predicted": [0.0003]})  # fmt: skip
    figure = charts.funding(predicted, settled, 60)
    (ax,) = [a for a in figure.axes if a.get_visible() and a.get_title()]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["predicted"].get_ydata(), [0.01, 0.03])
    np.testing.assert_allclose(lines["settled"].get_ydata(), [0.025])
    np.testing.assert_allclose(lines["last_predicted"].get_ydata(), [0.03])
    assert lines["settled"].get_xdata()[0] == pytest.approx(
        charts.axes.dates([bar + pd.Timedelta(minutes=3)])[0]
    )


def test_liquidation_bars_go_up_for_shorts_and_down_for_longs() -> None:
    bar = pd.Timestamp(T0, unit="ms")
    frame = pd.DataFrame({"exchange": ["v"] * 2, "symbol": [PERP] * 2, "bar_start": [bar] * 2,
                          "side": ["buy", "sell"], "notional": [370.0, 180.0]})  # fmt: skip
    figure = charts.liquidations(frame, 60)
    ax = figure.axes[0]
    heights = {p.get_gid(): p.get_height() for c in ax.containers for p in c}
    assert heights == {"buy": 370.0, "sell": -180.0}
    low, high = ax.get_ylim()
    assert low == -high  # symmetric: up and down read alike


def test_an_empty_lake_names_each_missing_dataset(tmp_path: Path) -> None:
    lake, out = tmp_path / "lake", tmp_path / "out"
    (lake / "crypto" / "tabular").mkdir(parents=True)
    assert main(["report", "--lake", str(lake), "--out", str(out)]) == 0
    page = (out / "derivatives.html").read_text()
    for needs in ("predicted funding (crypto_derivative_tickers)",
                  "settled funding (crypto_funding_rates)",
                  "open interest (crypto_open_interest)",
                  "mark and index prices (crypto_derivative_tickers)",
                  "liquidations (crypto_liquidations)"):  # fmt: skip
        assert f"no rows for {needs} in the whole lake" in page
    assert "<img" not in page
