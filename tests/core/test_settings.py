"""Settings come from STREAMER_* variables and TOML; bad values name the setting and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamer.errors import ConfigError
from streamer.settings import READ_ELSEWHERE, known, load, names_read, rows, unknown_settings
from streamer.settings_read import Reader, var
from tests.conftest import REPO


def test_defaults_need_no_configuration() -> None:
    s = load({})
    assert s.sources == ("binance", "coinbase", "coingecko")
    assert s.sink == "lake" and s.lake.root == Path("data")
    assert s.venues["binance"].kline_interval == "1m" and s.venues["binance"].trades == "trade"
    assert s.venues["coinbase"].max_frame_bytes >= 10 * 1024 * 1024
    assert s.venues["coingecko"].plan == "keyless" and s.venues["coingecko"].api_key is None


def test_environment_overrides_toml(tmp_path: Path) -> None:
    config = tmp_path / "streamer.toml"
    config.write_text('binance_symbols = ["ETH-BTC"]\nsink = "null"\nlake_dir = "/tmp/x"\n')
    s = load({"STREAMER_SINK": "lake", "STREAMER_BINANCE_KLINE_INTERVAL": "1s"}, config)
    assert s.venues["binance"].symbols == ("ETH-BTC",)
    assert s.sink == "lake" and s.lake.root == Path("/tmp/x")
    assert s.venues["binance"].kline_interval == "1s"


def test_coingecko_plans_pick_host_and_cadence() -> None:
    demo = load({"STREAMER_COINGECKO_API_KEY": "CG-x"}).venues["coingecko"]
    assert demo.plan == "demo" and demo.url == "https://api.coingecko.com/api/v3"
    assert demo.poll_seconds == 60
    pro = load({"STREAMER_COINGECKO_API_KEY": "k", "STREAMER_COINGECKO_PLAN": "pro"}).venues[
        "coingecko"
    ]
    assert pro.url == "https://pro-api.coingecko.com/api/v3"
    assert "CG-x" not in repr(demo)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"STREAMER_SOURCES": "binance,bitstamp"}, "STREAMER_SOURCES"),
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
        ({"STREAMER_FIREHOSE_PREFIX": "my lake"}, "STREAMER_FIREHOSE_PREFIX"),
        ({"STREAMER_FIREHOSE_MAX_IN_FLIGHT": "0"}, "STREAMER_FIREHOSE_MAX_IN_FLIGHT"),
        ({"STREAMER_FIREHOSE_LINGER_SECONDS": "soon"}, "STREAMER_FIREHOSE_LINGER_SECONDS"),
        ({"STREAMER_SPOOL_MAX_MB": "0"}, "STREAMER_SPOOL_MAX_MB"),
        ({"STREAMER_SHUTDOWN_SECONDS": "0"}, "STREAMER_SHUTDOWN_SECONDS"),
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


def test_firehose_settings_from_the_environment() -> None:
    s = load(
        {
            "STREAMER_SINK": "firehose",
            "STREAMER_FIREHOSE_PREFIX": "prod.crypto",
            "STREAMER_FIREHOSE_LINGER_SECONDS": "0.5",
            "STREAMER_FIREHOSE_MAX_IN_FLIGHT": "8",
            "STREAMER_FIREHOSE_RETRY_SECONDS": "30",
            "STREAMER_FIREHOSE_BUFFER_MB": "16",
            "STREAMER_SPOOL_DIR": "/var/lib/streamer/spool",
            "STREAMER_SPOOL_MAX_MB": "512",
            "STREAMER_SHUTDOWN_SECONDS": "20",
        }
    )
    f = s.firehose
    assert s.sink == "firehose" and f.stream_prefix == "prod.crypto"
    assert s.lake.stream_prefix == "prod.crypto"  # one prefix names streams and lake files
    assert (f.linger, f.max_in_flight, f.retry_seconds) == (0.5, 8, 30)
    assert f.buffer_bytes == 16 * 2**20 and f.spool_max_bytes == 512 * 2**20
    assert f.spool_dir == Path("/var/lib/streamer/spool") and f.shutdown_seconds == 20
    d = load({}).firehose
    assert (d.stream_prefix, d.linger, d.shutdown_seconds) == ("crypto", 2.0, 25.0)


def test_firehose_without_a_region_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamer.sinks.firehose import make_client

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError) as info:
        make_client(load({}).firehose)
    assert info.value.setting == "AWS_REGION"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert make_client(load({}).firehose).meta.region_name == "eu-west-1"


def test_load_reads_exactly_the_settings_in_the_spec() -> None:
    assert names_read({}) == known()


@pytest.mark.parametrize(
    ("variable", "default"),
    [(v, d) for s in rows() for v, d in zip(s.variables, s.defaults(), strict=False)],
)
def test_each_documented_default_is_the_default_load_applies(variable: str, default: str) -> None:
    assert load({variable: default}) == load({})


def test_a_setting_missing_from_the_spec_cannot_be_read() -> None:
    with pytest.raises(KeyError, match="not documented"):
        Reader({}, {}, known()).raw("undocumented_knob")


def test_an_unknown_variable_is_named_with_the_closest_setting() -> None:
    env = {"STREAMER_SINKK": "firehose", "STREAMER_LAKE_DIR": "/x", "STREAMER_FIXTURES": "/f",
           "STREAMER_QQQQQQQQ": "1", "OTHER_SINKK": "1"}  # fmt: skip
    s = load(env)
    assert s.sink == "lake"  # the misspelt one is ignored ...
    assert s.unknown == ("STREAMER_QQQQQQQQ", "STREAMER_SINKK (did you mean STREAMER_SINK?)")
    assert unknown_settings(env) == s.unknown  # ... and reported, by `load` or on its own


def test_an_unknown_config_key_is_named_with_the_closest_setting(tmp_path: Path) -> None:
    config = tmp_path / "streamer.toml"
    config.write_text('sinkk = "null"\nlake_dir = "/tmp/x"\n')
    assert load({}, config).unknown == ("sinkk (in the config file) (did you mean sink?)",)


def test_strict_settings_refuse_unknown_ones_in_one_message(tmp_path: Path) -> None:
    env = {"STREAMER_SINKK": "firehose", "STREAMER_HEALTH_PROT": "8080"}
    assert len(load(env).unknown) == 2
    with pytest.raises(ConfigError) as info:
        load({**env, "STREAMER_STRICT_SETTINGS": "true"})
    assert info.value.setting == "STREAMER_STRICT_SETTINGS"
    message = str(info.value)
    assert "\n" not in message
    assert "STREAMER_HEALTH_PROT (did you mean STREAMER_HEALTH_PORT?)" in message
    assert "STREAMER_SINKK (did you mean STREAMER_SINK?)" in message
    config = tmp_path / "streamer.toml"
    config.write_text("strict_settings = true\nqueue_sise = 10\n")
    with pytest.raises(
        ConfigError, match=re.escape("queue_sise (in the config file) (did you mean queue_size?)")
    ):
        load({}, config)
    assert load({"STREAMER_STRICT_SETTINGS": "true"}).unknown == ()


def test_every_streamer_variable_the_repository_sets_or_reads_is_known() -> None:
    """The deployment files set only settings; code reads other ones only if listed."""
    variables = {var(name) for name in known()}
    infra = REPO / "infra" / "terraform"
    files = ["Dockerfile", "docker-compose.yml", "Makefile", ".ci/run",
             *infra.glob("**/*.tf"), *infra.glob("**/*.hcl")]  # fmt: skip
    for path in files:
        text = (REPO / path).read_text()
        # a name ending in `_` is a prefix (a test picking a source's settings), not a setting
        named = set(re.findall(r"STREAMER_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])", text))
        assert named <= variables, path
    read = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()["'](STREAMER_[A-Z0-9_]+)""")
    for path in [*REPO.glob("src/**/*.py"), *REPO.glob("tests/**/*.py"),
                 *REPO.glob("benchmarks/**/*.py")]:  # fmt: skip
        assert set(read.findall(path.read_text())) <= variables | READ_ELSEWHERE, path


def test_health_host_defaults_to_loopback_and_the_image_listens_on_all() -> None:
    assert load({}).health_host == "127.0.0.1"
    assert load({"STREAMER_HEALTH_HOST": "0.0.0.0"}).health_host == "0.0.0.0"
    with pytest.raises(ConfigError, match="STREAMER_HEALTH_HOST"):
        load({"STREAMER_HEALTH_HOST": "a b"})
    assert "STREAMER_HEALTH_HOST=0.0.0.0" in (REPO / "Dockerfile").read_text()
