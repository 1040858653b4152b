"""The analytics examples of docs/analytics.md and the README run as written on a lake
`streamer demo` wrote, and each returns rows (unless its line says it may be empty)."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from streamer import query
from streamer.cli import main

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
MAY_BE_EMPTY = "empty when nothing went wrong"


def blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == language]


@pytest.fixture
def in_demo_dir(demo_lake: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory of a checkout after `make demo`: `demo-lake` is there."""
    monkeypatch.chdir(demo_lake.parent)
    return demo_lake


def test_the_python_examples_return_rows_on_the_demo_lake(in_demo_dir: Path) -> None:
    (code,) = blocks(REPO / "docs" / "analytics.md", "python")
    tree = ast.parse(code)
    scope: dict[str, object] = {}
    checked = 0
    for node in tree.body:
        source = ast.get_source_segment(code, node) or ""
        line = code.splitlines()[node.lineno - 1]
        if not isinstance(node, ast.Expr):
            exec(compile(ast.Module([node], []), "docs/analytics.md", "exec"), scope)
            continue
        value = eval(compile(ast.Expression(node.value), "docs/analytics.md", "eval"), scope)
        frames = value if isinstance(value, tuple) else (value,)
        for frame in frames:
            assert isinstance(frame, pd.DataFrame), source
            assert MAY_BE_EMPTY in line or len(frame) > 0, f"no rows: {source}"
            checked += 1
    assert checked >= 10


def test_the_sql_example_returns_bars_of_whole_candles(in_demo_dir: Path) -> None:
    (sql,) = blocks(REPO / "docs" / "analytics.md", "sql")
    names, rows = query.run(in_demo_dir, sql)
    assert names[:2] == ["symbol", "bar_start"] and rows
    assert all(row[names.index("candles")] <= 60 for row in rows)


def test_the_readme_commands_on_the_demo_lake_exit_0(
    in_demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = [
        shlex.split(line.split("#")[0])
        for body in blocks(REPO / "README.md", "sh")
        for line in body.splitlines()
        if line.startswith(".venv/bin/streamer ") and "--lake demo-lake" in line
    ]
    assert {c[1] for c in commands} >= {"query", "report"}
    for command in commands:
        assert main(command[1:]) == 0, command
    assert (in_demo_dir.parent / "report" / "index.html").exists()
    assert "Traceback" not in capsys.readouterr().err
