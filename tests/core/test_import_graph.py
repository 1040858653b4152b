"""The import graph of `src/streamer`: no circle, and the core never imports a venue.

Every import counts, those inside functions too (a lazy import is still a dependency); only
those under `if TYPE_CHECKING:` are left out, since they never run. Importing a package's
module runs the package's `__init__` first, which is not counted as an edge (it is how Python
imports, not a choice of the importing module).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
REGISTRY = "streamer.venues"


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted((SRC / "streamer").rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str) -> Iterator[str]:
    """Every module named by an import under `tree`, skipping `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            yield from (m for child in node.orelse for m in _imports(child, package))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in MODULES else base
        yield from _imports(node, package)


def graph() -> dict[str, set[str]]:
    """Module -> the `streamer` modules it imports."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for target in _imports(ast.parse(path.read_text()), package):
            while target and target not in MODULES:  # `import a.b.c` names module a.b.c
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(f"{target}."):
                found.add(target)
        edges[name] = found
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def venue_of(module: str) -> str | None:
    """`streamer.venues.binance.decode` -> `binance`; None for the core and the registry."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["streamer", "venues"] else None


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones() -> None:
    edges = graph()
    assert "streamer.venues.binance.source" in edges["streamer.venues.binance"]  # lazy
    assert "streamer.sources.base" not in edges["streamer.venue_spec"]  # TYPE_CHECKING only
    assert "streamer.venues" in edges["streamer.settings"]


def test_the_cycle_finder_finds_a_circle_through_a_lazy_import() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_the_core_imports_no_venue_but_through_the_registry() -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if venue_of(module) is None and module != REGISTRY
        for target in targets
        if venue_of(target) is not None
    )
    assert bad == []


def test_a_venue_imports_no_other_venue() -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if venue_of(module) and venue_of(target) and venue_of(module) != venue_of(target)
    )
    assert bad == []


@pytest.mark.parametrize(
    ("low", "high"),
    [("streamer.sinks", "streamer.sources"), ("streamer.sources", "streamer.sinks")],
)
def test_sources_and_sinks_do_not_know_each_other(low: str, high: str) -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module.startswith(f"{low}.")
        for target in targets
        if target == high or target.startswith(f"{high}.")
    )
    assert bad == []


def test_no_module_is_over_450_lines() -> None:
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}


REPORTS = "streamer.analytics"
"""The report compares named venues' prices in the lake (`exchange` values), which is data,
not venue code: it reads no venue module and is left out of the naming check."""


def _named(path: Path, names: tuple[str, ...]) -> list[str]:
    """Identifiers and string literals (docstrings and comments left out) naming a venue."""
    tree = ast.parse(path.read_text())
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            text = node.name
        if text is not None and any(name in text.lower() for name in names):
            found.append(f"{path.name}:{getattr(node, 'lineno', 0)}: {text[:60]!r}")
    return found


def test_the_naming_check_finds_a_venue_in_code_but_not_in_docstrings(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""About Binance."""\nURL = "wss://stream.binance.com"\n')
    assert _named(module, ("binance",)) == ["m.py:2: 'wss://stream.binance.com'"]


def test_no_core_module_names_a_venue_in_its_code() -> None:
    from streamer.venues import VENUES

    names = tuple(spec.name for spec in VENUES)
    named = [
        line
        for module, path in MODULES.items()
        if venue_of(module) is None and module != REGISTRY and not module.startswith(REPORTS)
        for line in _named(path, names)
    ]
    assert named == []
