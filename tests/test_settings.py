"""Settings come from STREAMER_* variables and TOML; bad values name the setting and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.errors import ConfigError
from streamer.settings import load


def test_defaults_need_no_configuration() -> None:
    s = load({})
    assert s.sources == ("binance", "coinbase", "coingecko")
    assert s.sink == "lake" and s.lake.root == Path("data")
    assert s.binance.kline_interval == "1m" and s.binance.trades == "trade"
    assert s.coinbase.max_frame_bytes >= 10 * 1024 * 1024
    assert s.coingecko.plan == "keyless" and s.coingecko.api_key is None


def test_environment_overrides_toml(tmp_path: Path) -> None:
    config = tmp_path / "streamer.toml"
    config.write_text('binance_symbols = ["ETH-BTC"]\nsink = "null"\nlake_dir = "/tmp/x"\n')
    s = load({"STREAMER_SINK": "lake", "STREAMER_BINANCE_KLINE_INTERVAL": "1s"}, config)
    assert s.binance.symbols == ("ETH-BTC",)
    assert s.sink == "lake" and s.lake.root == Path("/tmp/x")
    assert s.binance.kline_interval == "1s"


def test_coingecko_plans_pick_host_and_cadence() -> None:
    demo = load({"STREAMER_COINGECKO_API_KEY": "CG-x"}).coingecko
    assert demo.plan == "demo" and demo.url == "https://api.coingecko.com/api/v3"
    assert demo.poll_seconds == 60
    pro = load({"STREAMER_COINGECKO_API_KEY": "k", "STREAMER_COINGECKO_PLAN": "pro"}).coingecko
    assert pro.url == "https://pro-api.coingecko.com/api/v3"
    assert "CG-x" not in repr(demo)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"STREAMER_SOURCES": "binance,kraken"}, "STREAMER_SOURCES"),
        ({"STREAMER_BINANCE_SYMBOLS": "btcusdt"}, "STREAMER_BINANCE_SYMBOLS"),
        ({"STREAMER_BINANCE_KLINE_INTERVAL": "2m"}, "STREAMER_BINANCE_KLINE_INTERVAL"),
        ({"STREAMER_BINANCE_TRADES": "trades"}, "STREAMER_BINANCE_TRADES"),
        ({"STREAMER_BINANCE_WS_URL": "https://x"}, "STREAMER_BINANCE_WS_URL"),
        ({"STREAMER_SINK": "kafka"}, "STREAMER_SINK"),
        ({"STREAMER_LAKE_BUFFER_SECONDS": "-1"}, "STREAMER_LAKE_BUFFER_SECONDS"),
        ({"STREAMER_COINBASE_BOOK_DEPTH": "ten"}, "STREAMER_COINBASE_BOOK_DEPTH"),
        ({"STREAMER_COINGECKO_PLAN": "pro"}, "STREAMER_COINGECKO_API_KEY"),
        ({"STREAMER_COINGECKO_COINS": "Bitcoin"}, "STREAMER_COINGECKO_COINS"),
        ({"STREAMER_COINBASE_SYMBOLS": "BTC-USD,BTC-USD"}, "STREAMER_COINBASE_SYMBOLS"),
    ],
)
def test_bad_settings_name_themselves(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(env)
    assert info.value.setting == setting
    assert str(info.value).startswith(setting)


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load({}, tmp_path / "nope.toml")
