"""`make notebooks`: runs `notebooks/*.ipynb` headless and stores them with their outputs.

    python -m streamer.analytics.run_notebooks [--lake DIR] [--seconds 60] [NOTEBOOK ...]

Without `--lake`, the pipeline first writes a sample lake from the simulator into a temporary
`demo-lake/` (`streamer.sample_lake`: a minute, an hour of market), and each notebook runs
in that folder, finding the lake as a user's notebook finds `make demo`'s. Each notebook is
written back in place with its outputs, so GitHub shows the charts, and without what changes
from run to run for nothing (execution timestamps, the Python patch version); its metadata
records a digest of its code cells, which tests/analytics/test_notebooks.py compares with the
code to tell a stored copy whose code changed since it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image

from streamer.analytics.notebooks import DEMO_LAKE

NOTEBOOKS = Path("notebooks")
KERNEL = "python3"  # the kernel of the Python running this (ipykernel in the same venv)
TIMEOUT_SECONDS = 300  # per cell
# Settings that would send a notebook elsewhere than the lake it is given.
LAKE_SETTINGS = ("STREAMER_LAKE_DIR", "STREAMER_ATHENA_WORKGROUP", "STREAMER_ATHENA_DATABASE")
PNG_COLORS = 128  # charts have a few flat colours and their anti-aliasing: a third of the bytes


def code_digest(notebook: nbformat.NotebookNode) -> str:
    """SHA-256 of the notebook's code cells, in order: what its stored outputs came from."""
    digest = hashlib.sha256()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode() + b"\0")
    return digest.hexdigest()


def kernel_env(lake: Path | None, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The kernel's environment: `base` reading `lake` (None: the demo lake it finds)."""
    env = {k: v for k, v in base.items() if k not in LAKE_SETTINGS}
    if lake is not None:
        env["STREAMER_LAKE_DIR"] = str(lake)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # no debugger warning in the outputs
    return env


def execute(notebook: nbformat.NotebookNode, cwd: Path, env: Mapping[str, str]) -> None:
    """Runs every cell of `notebook` in a fresh kernel started in `cwd`; raises
    `nbclient.exceptions.CellExecutionError` at the first cell that fails."""
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_SECONDS,
        kernel_name=KERNEL,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=dict(env))


def small_png(png: bytes) -> bytes:
    """The same picture in a palette of `PNG_COLORS` colours, compressed as far as PNG goes."""
    with Image.open(io.BytesIO(png)) as image:
        out = io.BytesIO()
        image.convert("RGB").quantize(PNG_COLORS).save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def stabilize(notebook: nbformat.NotebookNode) -> None:
    """Shrinks the charts, drops what differs between two runs of the same code (timestamps,
    the Python version) and records the code's digest."""
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                png = small_png(base64.b64decode(data["image/png"]))
                data["image/png"] = base64.b64encode(png).decode("ascii")
    language = notebook.metadata.get("language_info", {})
    notebook.metadata["language_info"] = {"name": language.get("name", "python")}
    notebook.metadata["streamer"] = {"code_sha256": code_digest(notebook)}


def run(paths: Sequence[Path], lake: Path | None, seconds: float) -> None:
    """Executes and stores each notebook of `paths`, on `lake` or on a fresh sample lake."""
    with tempfile.TemporaryDirectory(prefix="streamer-notebooks-") as tmp:
        if lake is None:
            from streamer.sample_lake import write_sample_lake

            print(f"run_notebooks: {seconds:g} s of simulated market into a sample lake ...")
            asyncio.run(write_sample_lake(Path(tmp) / DEMO_LAKE, seconds))
        for path in paths:
            notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
            print(f"run_notebooks: {path}", flush=True)
            execute(notebook, Path(tmp) if lake is None else path.parent, kernel_env(lake))
            stabilize(notebook)
            nbformat.validate(notebook)
            nbformat.write(notebook, path)  # type: ignore[no-untyped-call]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamer.analytics.run_notebooks")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--lake", type=Path, help="an existing lake (default: a sample lake)")
    parser.add_argument("--seconds", type=float, default=60.0, help="sample lake: wall seconds")
    args = parser.parse_args(argv)
    logging.getLogger("streamer").setLevel(logging.ERROR)  # the sample run's reconnects
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print(f"run_notebooks: no notebooks in {NOTEBOOKS}/", file=sys.stderr)
        return 2
    run(paths, args.lake.resolve() if args.lake else None, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
