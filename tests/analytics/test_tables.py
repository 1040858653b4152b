"""Prices in the report's tables keep the decimals the instrument trades in, per symbol."""

from __future__ import annotations

import pandas as pd

from streamer.analytics import tables


def test_decimals_are_the_most_any_price_carries() -> None:
    assert tables.decimals([86000.0, 86000.5, 86000.12]) == 2
    assert tables.decimals([0.000012, 0.0000125]) == 7
    assert tables.decimals([float("nan"), 3.0]) == 0
    assert tables.decimals([1 / 3]) == tables.MAX_DECIMALS


def test_each_symbols_prices_are_shown_with_its_own_decimals() -> None:
    frame = pd.DataFrame({
        "symbol": ["BTC-USDT", "BTC-USDT", "DOGE-USDT"],
        "open": [86000.01, 86000.0, 0.12345], "close": [86000.1, 86000.05, 0.1234],
        "volume": [1234567.891, 0.25, float("nan")], "candles": [5, 5, 4],
    })  # fmt: skip
    places = tables.decimals_per(frame, "symbol", ["open", "close"])
    assert places == {"BTC-USDT": 2, "DOGE-USDT": 5}
    shown = tables.shown(frame, {"open": places, "close": places}, "symbol")
    assert shown["open"].tolist() == ["86,000.01", "86,000.00", "0.12345"]
    assert shown["close"].tolist() == ["86,000.10", "86,000.05", "0.12340"]
    assert shown["volume"].tolist() == ["1,234,568", "0.25", ""]
    assert shown["candles"].tolist() == [5, 5, 4]
