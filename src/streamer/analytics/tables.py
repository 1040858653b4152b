"""The report's tables as text: prices with the decimals the instrument trades in.

A price column is shown, per instrument, with the most decimals its values carry in the data
(the shortest text that reads back as the same float: `86000.12` has 2), so BTC's OHLC do not
all round to `86,000` and a coin priced at 0.000012 keeps its digits. There is no tick size in
the lake, so the data is the evidence. Other numbers: two decimals from 1 up, three
significant digits below, no decimals from 1,000 up; whole numbers as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

MAX_DECIMALS = 10


def decimals(values: Iterable[float]) -> int:
    """The most decimals any finite value carries (at most `MAX_DECIMALS`)."""
    most = 0
    for value in values:
        if value is None or not math.isfinite(value):
            continue
        mantissa, _, exponent = repr(float(value)).partition("e")
        digits = len(mantissa.partition(".")[2].rstrip("0")) - int(exponent or 0)
        most = max(most, digits)
    return min(most, MAX_DECIMALS)


def decimals_per(frame: pd.DataFrame, key: str, columns: Iterable[str]) -> dict[str, int]:
    """Per value of `key` (a symbol or coin), the decimals its prices in `columns` carry."""
    names = [c for c in columns if c in frame.columns]
    if frame.empty or not names:
        return {}
    return {
        str(name): decimals(part[names].to_numpy(dtype=float).ravel())
        for name, part in frame.groupby(key, sort=True)
    }


def price(value: float, places: int) -> str:
    return f"{value:,.{places}f}"


def number(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def shown(
    frame: pd.DataFrame, prices: Mapping[str, Mapping[str, int]] | None = None, key: str = ""
) -> pd.DataFrame:
    """`frame` as text: columns in `prices` (column: {key value: decimals}) as prices with the
    decimals of the row's `key` (a key not listed: by `number`), other floats by `number`,
    missing values blank."""
    prices = prices or {}
    out = frame.astype(object).copy()
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_float_dtype(values):
            continue
        places = prices.get(column, {})
        keys = frame[key].astype(str).tolist() if key in frame.columns else [""] * len(frame)
        texts = []
        for name, value in zip(keys, values, strict=True):
            if pd.isna(value):
                texts.append("")
            elif name in places:
                texts.append(price(value, places[name]))
            else:
                texts.append(number(value))
        out[column] = texts
    return out
