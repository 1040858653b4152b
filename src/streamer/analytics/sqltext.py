"""The analytics SQL files and how their named parameters are bound.

Each query lives once, in `sql/<name>.sql` beside this module (linked from the repository's
`sql/analytics/`), written in the SQL that DuckDB and Athena (Trino) both run. Parameters are
written `:name`. `bind` turns them into positional `?` markers and returns the values in order,
so both engines receive the same text and bind the values themselves: DuckDB as native values,
Athena as `ExecutionParameters` literals (`athena_literal`). No caller value is pasted into the
text; the only text substitution is `rows_per_hour.sql`'s `{table}`, filled from `schema.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

from streamer.schema import DATASETS, REJECTS, Dataset

Value = str | int
"""What a parameter may hold: text or a whole number (both engines type them from that)."""

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@cache
def load(name: str) -> str:
    """The text of `sql/<name>.sql` (its first line a `--` comment saying what it answers)."""
    return (resources.files(__package__) / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def names() -> list[str]:
    """Every query file, by name."""
    folder = resources.files(__package__) / "sql"
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


def placeholders(text: str) -> list[str]:
    """The `:name` parameters of `text` in order of appearance (repeats included); quoted
    strings, quoted identifiers and `--` comments are skipped."""
    return [name for name, _ in _scan(text)]


def bind(text: str, params: Mapping[str, Value]) -> tuple[str, list[Value]]:
    """`text` with each `:name` replaced by `?`, and the values in the order of the markers.

    Raises KeyError naming a parameter the text uses that `params` does not give.
    """
    out: list[str] = []
    values: list[Value] = []
    last = 0
    for name, (start, end) in _scan(text):
        if name not in params:
            raise KeyError(f"the query needs parameter {name!r}")
        out.append(text[last:start])
        out.append("?")
        values.append(params[name])
        last = end
    out.append(text[last:])
    return "".join(out), values


def athena_literal(value: Value) -> str:
    """One Athena execution parameter: Athena substitutes it as a SQL literal, so text is
    quoted (quotes doubled) and a number written in decimal."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"unsupported parameter type: {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def rows_per_hour(datasets: Sequence[Dataset] | None = None) -> str:
    """`rows_per_hour.sql` for every dataset (and the rejects), joined by UNION ALL."""
    chosen = list(datasets) if datasets is not None else [*DATASETS.values(), REJECTS]
    template = _strip_comment(load("rows_per_hour"))
    parts = [template.format(table=d.table, dataset=d.name) for d in chosen]
    return "\nUNION ALL\n".join(parts)


def _strip_comment(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(line for line in lines if not line.startswith("--")).strip()


def _scan(text: str) -> list[tuple[str, tuple[int, int]]]:
    found: list[tuple[str, tuple[int, int]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":  # a literal or a quoted identifier; a doubled quote stays inside
            j = i + 1
            while j < n:
                if text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch == ":" and (i == 0 or text[i - 1] != ":"):
            match = _NAME.match(text, i + 1)
            if match:
                found.append((match.group(), (i, match.end())))
                i = match.end()
            else:
                i += 1
        else:
            i += 1
    return found
