"""The README's table reference is the generated one, and its commands exist."""

from __future__ import annotations

from streamer.schema import markdown_tables
from streamer.settings_spec import ANALYTICS, COMPACTION, FIREHOSE, GENERAL, markdown_settings
from tests.conftest import REPO


def test_readme_tables_match_the_schema() -> None:
    assert markdown_tables() in (REPO / "README.md").read_text()


def test_readme_commands_are_make_targets() -> None:
    readme = (REPO / "README.md").read_text()
    makefile = (REPO / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert f"\n{target}:" in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_readme_settings_tables_match_the_settings_spec() -> None:
    readme = (REPO / "README.md").read_text()
    for section in (GENERAL, FIREHOSE, COMPACTION, ANALYTICS):
        assert markdown_settings(section) in readme, f"README {section} settings table is stale"
