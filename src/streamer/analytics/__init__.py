"""`streamer.analytics`: the lake's questions as pandas DataFrames, locally or on Athena.

    from streamer.analytics import connect

    db = connect(lake="demo-lake")                        # DuckDB over a local lake
    db = connect(athena=AthenaTarget("streamer"))         # Athena: workgroup (and database)
    db = connect()                                        # Athena if STREAMER_ATHENA_WORKGROUP
                                                          # is set, else STREAMER_LAKE_DIR
    db.between("2025-11-24", "2025-11-25", "BTC-USDT").candles("15m")

The queries are the files in `sql/` (the same text on both engines); `Analytics` lists them.
Needs the `analytics` extra: `pip install -e '.[analytics]'`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streamer.analytics.engines import AthenaEngine, AthenaTarget, Connector, DuckDBEngine
from streamer.analytics.engines import QueryFailed as QueryFailed
from streamer.analytics.progress import Progress
from streamer.analytics.queries import Analytics, make_window
from streamer.analytics.window import Window
from streamer.errors import ConfigError

__all__ = [
    "Analytics",
    "AthenaTarget",
    "QueryFailed",
    "Window",
    "connect",
    "make_window",
]


def connect(
    lake: Path | str | None = None,
    athena: AthenaTarget | None = None,
    *,
    window: Window | None = None,
    progress: Progress | None = None,
    env: Mapping[str, str] | None = None,
    connector: Connector | None = None,
) -> Analytics:
    """DuckDB over `lake`, or Athena for `athena`; with neither, the settings decide
    (`STREAMER_ATHENA_WORKGROUP` and `STREAMER_ATHENA_DATABASE`, else `STREAMER_LAKE_DIR`).
    `connector` replaces `pyathena.connect` (tests)."""
    if lake is not None and athena is not None:
        raise ConfigError("connect", "got both a lake and an Athena target", "Pass one.")
    if lake is None and athena is None:
        from streamer import settings

        config = settings.load(env)
        if config.athena.workgroup:
            athena = AthenaTarget(config.athena.workgroup, config.athena.database)
        else:
            lake = config.lake.root
    if athena is not None:
        return Analytics(AthenaEngine(athena, connector), window, progress)
    return Analytics(DuckDBEngine(Path(lake)), window, progress)  # type: ignore[arg-type]
