"""What the notebooks in `notebooks/` read when nothing is set: the demo lake.

    from streamer.analytics.notebooks import connect_notebook

    db = connect_notebook()

Athena when `STREAMER_ATHENA_WORKGROUP` is set; else the lake in `STREAMER_LAKE_DIR`; else the
nearest `demo-lake/` in the working directory or a folder above it. Jupyter starts a notebook's
kernel in the notebook's folder, so `notebooks/*.ipynb` find the `demo-lake/` that `make demo`
writes at the repository's root, whether opened from there or from `notebooks/`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from streamer.analytics import Analytics, connect
from streamer.errors import ConfigError

DEMO_LAKE = "demo-lake"


def find_demo_lake(start: Path) -> Path | None:
    """The nearest `demo-lake/` in `start` or above it, relative to `start` (`demo-lake`,
    `../demo-lake`, ...), so the path a notebook prints does not depend on the checkout."""
    start = start.resolve()
    for up, folder in enumerate((start, *start.parents)):
        if (folder / DEMO_LAKE).is_dir():
            return Path(*([".."] * up), DEMO_LAKE)
    return None


def connect_notebook(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Analytics:
    """`connect()` for a notebook: as `connect()` does when a setting is there, else the demo
    lake found from `cwd` (default: the working directory)."""
    env = os.environ if env is None else env
    if env.get("STREAMER_ATHENA_WORKGROUP") or env.get("STREAMER_LAKE_DIR"):
        return connect(env=env)
    lake = find_demo_lake(Path.cwd() if cwd is None else cwd)
    if lake is not None:
        return connect(lake=lake if cwd is None else cwd / lake)
    raise ConfigError(
        "STREAMER_LAKE_DIR",
        f"not set, and no {DEMO_LAKE}/ in {cwd or Path.cwd()} or a folder above it",
        "Run `make demo` at the repository's root, or set STREAMER_LAKE_DIR to a lake "
        "(or STREAMER_ATHENA_WORKGROUP for Athena).",
    )
