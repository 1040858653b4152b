"""The `streamer` command: configuration errors, queries and formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamer.cli import main
from streamer.jsonline import encode
from streamer.records import Dec, Millis, Trade
from streamer.schema import DATASETS
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink

T0 = Millis(1764000000000)


@pytest.fixture
async def lake(tmp_path: Path) -> Path:
    sink = LakeSink(LakeSettings(root=tmp_path))
    for n, side in enumerate(("buy", "sell")):
        row = Trade("coinbase", "BTC-USD", T0, T0, str(n), Dec("83277.25"), Dec("0.5"), side, "r")
        sink.add(DATASETS["trades"], encode(row), T0)
    await sink.aclose()
    return tmp_path


def test_bad_setting_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMER_SINK", "kafka")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "STREAMER_SINK" in err and "lake" in err


def test_query_formats(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT trade_id, side, price FROM crypto_trades ORDER BY trade_id"
    assert main(["query", sql, "--lake", str(lake), "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        {"trade_id": "0", "side": "buy", "price": "83277.250000000000000000"},
        {"trade_id": "1", "side": "sell", "price": "83277.250000000000000000"},
    ]
    assert main(["query", sql, "--lake", str(lake), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "trade_id,side,price"
    assert main(["query", "SELECT count(*) AS n FROM crypto_trades", "--lake", str(lake)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].strip() == "2"


def test_query_errors_are_reported(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "SELECT nope FROM crypto_trades", "--lake", str(lake)]) == 1
    assert "query failed" in capsys.readouterr().err
    assert main(["query", "SELECT 1", "--lake", str(lake / "missing")]) == 2


def test_other_commands_warn_of_a_misspelt_variable_or_refuse_it_when_strict(
    lake: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STREAMER_LAKE_DIRR", str(lake))
    assert main(["query", "SELECT 1 AS n", "--lake", str(lake)]) == 0
    [warning] = [r.getMessage() for r in caplog.records if "settings.unknown" in r.getMessage()]
    assert "STREAMER_LAKE_DIRR (did you mean STREAMER_LAKE_DIR?)" in warning
    monkeypatch.setenv("STREAMER_STRICT_SETTINGS", "true")
    assert main(["query", "SELECT 1 AS n", "--lake", str(lake)]) == 2
    assert "STREAMER_LAKE_DIRR" in capsys.readouterr().err
