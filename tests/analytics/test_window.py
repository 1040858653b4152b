"""A window's parameters: event times, partition hours widened by the slack, symbols; bad
input named with its fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamer.analytics.window import Window, auto_bar, bar_seconds, parse_symbols, parse_time
from streamer.errors import ConfigError


def test_a_bounded_window_widens_the_partition_range_by_an_hour() -> None:
    window = Window(
        datetime(2025, 12, 31, 23, 30, tzinfo=UTC), datetime(2026, 1, 1, 0, 15, tzinfo=UTC),
        ("BTC-USDT", "BTC-USD", "ETH-USD"),
    )  # fmt: skip
    params = window.params()
    assert params["since"] == "2025-12-31 23:30:00.000"
    assert params["until"] == "2026-01-01 00:15:00.000"
    assert (params["from_hour"], params["to_hour"]) == ("2025123122", "2026010101")
    assert (params["from_year"], params["to_year"]) == ("2025", "2026")
    assert (params["first_hour"], params["last_hour"]) == ("2025123123", "2026010100")
    assert params["symbols"] == "BTC-USDT,BTC-USD,ETH-USD"
    assert params["bases"] == "BTC,ETH"


def test_an_open_window_covers_everything() -> None:
    params = Window().params()
    assert params["from_hour"] == "1970010100" and params["to_hour"] == "9999123123"
    assert params["symbols"] == ""


def test_times_parse_as_utc() -> None:
    assert parse_time("2025-11-24", "--since") == datetime(2025, 11, 24, tzinfo=UTC)
    assert parse_time("2025-11-24T18:30+02:00", "--since") == datetime(
        2025, 11, 24, 16, 30, tzinfo=UTC
    )
    assert parse_time("2025-11-24T16:30:00Z", "--since").hour == 16


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: parse_time("last week", "--since"), "--since"),
        (lambda: bar_seconds("5 minutes"), "--bar"),
        (lambda: parse_symbols(["btc_usdt"]), "--symbols"),
        (lambda: Window(datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
         "--since"),
    ],
)  # fmt: skip
def test_bad_input_names_the_argument(call: object, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.setting == named


def test_symbols_are_split_upper_cased_and_deduplicated() -> None:
    assert parse_symbols(["btc-usdt,ETH-USD", "BTC-USDT"]) == ("BTC-USDT", "ETH-USD")


def test_contracts_are_symbols_too_and_their_base_is_the_coin() -> None:
    window = Window(symbols=parse_symbols(["btc-usdt-perp,ETH-USDT-260327"]))
    assert window.symbols == ("BTC-USDT-PERP", "ETH-USDT-260327")
    assert window.bases == ("BTC", "ETH")
    for bad in ("BTC-USDT-QUARTER", "BTC-USDT-2603", "BTC-USDT-PERP-X"):
        with pytest.raises(ConfigError, match="is not a symbol"):
            parse_symbols([bad])


def test_auto_bar_picks_the_shortest_readable_multiple() -> None:
    assert auto_bar(timedelta(seconds=30), 1) == 1
    assert auto_bar(timedelta(hours=2), 60) == 60
    assert auto_bar(timedelta(hours=24), 60) == 900
    assert auto_bar(timedelta(hours=3), 300) == 300
    assert auto_bar(timedelta(days=365), 60) == 86400
    assert bar_seconds("15m") == 900 and bar_seconds("1d") == 86400
