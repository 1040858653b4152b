"""The notebooks: each runs headless (nbclient, the project's own kernel) on a lake the pipeline
wrote, finding it as demo-lake/ with nothing set, and shows its charts; the copies stored with
their outputs (`make notebooks`) ran the code they hold, and stay small and stable."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from streamer.analytics import notebooks
from streamer.analytics.run_notebooks import (
    code_digest,
    execute,
    kernel_env,
    small_png,
    stabilize,
)
from streamer.errors import ConfigError
from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MIN_CHARTS = 3
MAX_PNG_BYTES = 70_000  # a chart of five exchanges, two markets each, in 128 colours
MAX_NOTEBOOK_BYTES = 350_000


def outputs(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]


def pngs(notebook: nbformat.NotebookNode) -> list[bytes]:
    return [base64.b64decode(o.data["image/png"]) for o in outputs(notebook)
            if "image/png" in o.get("data", {})]  # fmt: skip


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in outputs(notebook) if o.output_type == "stream")


def test_there_are_the_three_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "cross_venue.ipynb", "derivatives.ipynb", "explore_lake.ipynb",
    ]  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_copy_ran_its_code_and_shows_its_charts(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    stored = notebook.metadata.get("streamer", {}).get("code_sha256")
    assert stored == code_digest(notebook), f"{path.name}: its code changed: make notebooks"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not one clean run"
    assert not [o for o in outputs(notebook) if o.output_type == "error"]
    assert len(pngs(notebook)) >= MIN_CHARTS
    assert "duckdb demo-lake" in printed(notebook)  # a sample lake, no machine's path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_copy_is_small_and_without_volatile_metadata(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES
    assert all(len(png) <= MAX_PNG_BYTES for png in pngs(notebook))
    assert not [c for c in notebook.cells if "execution" in c.metadata]  # timestamps
    assert notebook.metadata.language_info == {"name": "python"}  # no Python patch version


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_headless_on_the_demo_lake_it_finds(path: Path, pipeline_lake: Path,
                                                 tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "demo-lake").symlink_to(pipeline_lake, target_is_directory=True)
    (tmp_path / "notebooks").mkdir()
    notebook = nbformat.read(path, as_version=4)
    execute(notebook, tmp_path / "notebooks", kernel_env(None))  # the kernel starts beside it
    assert not [o for o in outputs(notebook) if o.output_type == "error"]
    assert len(pngs(notebook)) >= MIN_CHARTS, f"{path.name} showed {len(pngs(notebook))} charts"
    assert "duckdb ../demo-lake" in printed(notebook)
    assert "Warning" not in printed(notebook), printed(notebook)


def test_stabilize_drops_timestamps_and_records_the_code() -> None:
    language = {"name": "python", "version": "3.11.9"}
    notebook = nbformat.v4.new_notebook(metadata={"language_info": language})
    cell = nbformat.v4.new_code_cell("1 + 1", metadata={"execution": {"shell.execute_reply": "x"}})
    notebook.cells.append(cell)
    stabilize(notebook)
    assert "execution" not in cell.metadata
    assert notebook.metadata.language_info == {"name": "python"}
    assert notebook.metadata.streamer == {"code_sha256": code_digest(notebook)}
    cell.source = "1 + 2"
    assert notebook.metadata.streamer["code_sha256"] != code_digest(notebook)


def test_small_png_keeps_the_picture_size_in_fewer_bytes() -> None:
    ramp = Image.linear_gradient("L")
    image = Image.merge("RGB", (ramp, Image.radial_gradient("L"), ramp.rotate(90)))
    raw = io.BytesIO()
    image.save(raw, format="PNG")
    small = small_png(raw.getvalue())
    assert len(small) < len(raw.getvalue())
    with Image.open(io.BytesIO(small)) as out:
        assert out.size == image.size


def test_a_set_lake_wins_over_the_demo_lake(tmp_path: Path) -> None:
    (tmp_path / "demo-lake" / "crypto" / "tabular").mkdir(parents=True)
    (tmp_path / "elsewhere" / "crypto" / "tabular").mkdir(parents=True)
    db = notebooks.connect_notebook({"STREAMER_LAKE_DIR": str(tmp_path / "elsewhere")}, tmp_path)
    assert db.engine.label == f"duckdb {tmp_path / 'elsewhere'}"


def test_the_demo_lake_is_found_in_the_folder_or_above(tmp_path: Path) -> None:
    (tmp_path / "demo-lake" / "crypto" / "tabular").mkdir(parents=True)
    (tmp_path / "notebooks" / "deeper").mkdir(parents=True)
    assert notebooks.find_demo_lake(tmp_path) == Path("demo-lake")
    assert notebooks.find_demo_lake(tmp_path / "notebooks" / "deeper") == Path("../../demo-lake")
    db = notebooks.connect_notebook({}, tmp_path / "notebooks")
    assert db.engine.label == f"duckdb {tmp_path / 'notebooks' / '..' / 'demo-lake'}"


def test_no_lake_anywhere_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make demo"):
        notebooks.connect_notebook({}, tmp_path)
