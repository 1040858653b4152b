"""Prefixes and object names render like Firehose's."""

from __future__ import annotations

import pytest

from streamer.errors import ConfigError
from streamer.partitioning import object_name, render_prefix
from streamer.schema import DATASETS

MOMENT = 1764000000123  # 2025-11-24 16:00:00.123 UTC


def test_dataset_prefix_renders_the_arrival_hour_in_utc() -> None:
    prefix = render_prefix(DATASETS["tickers"].prefix_template, MOMENT)
    assert prefix == "crypto/tabular/tickers/year=2025/month=11/day=24/hour=16/"


def test_quoted_literals_and_minutes() -> None:
    assert render_prefix("x/!{timestamp:yyyy-MM-dd'T'HH:mm}/", MOMENT) == "x/2025-11-24T16:00/"


def test_unsupported_expressions_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="firehose"):
        render_prefix("x/!{firehose:random-string}/", MOMENT)
    with pytest.raises(ConfigError, match="'z'"):
        render_prefix("x/!{timestamp:z}/", MOMENT)


def test_object_name_matches_firehose_suffix() -> None:
    name = object_name("crypto-trades", 1, MOMENT, "abc")
    assert name == "crypto-trades-1-2025-11-24-16-00-00-abc"
