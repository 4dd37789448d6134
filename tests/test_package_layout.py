"""The package's layout holds: no import cycle (lazy imports too), click and signals in
the CLI alone, the CLI on the public API, and the sandbox apart from the client."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bulk_loader"
# What the CLI may import of bulk_loader: the public API, the neutral words and
# errors, the process's temporary folder, the sandbox's own API, and itself.
CLI_MAY_USE = {
    "bulk_loader",
    "bulk_loader.api",
    "bulk_loader.errors",
    "bulk_loader.outcomes",
    "bulk_loader.scratch",
    "bulk_loader.sandbox",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """Every bulk_loader module `name` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                found.add(inner if inner in MODULES else node.module)
    return {module for module in found if module.split(".")[0] == "bulk_loader"}


def foreign_imports(name: str) -> set[str]:
    """The top-level names of every module `name` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    graph = {name: imports(name) - {name} for name in MODULES}
    cycles = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycles.append(" -> ".join([*path[path.index(name) :], name]))
            return
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_click_and_signals_live_in_the_cli_alone() -> None:
    users = {
        name
        for name in MODULES
        if {"click", "signal"} & foreign_imports(name) and not name.startswith("bulk_loader.cli")
    }
    assert users == set()


def test_the_cli_stands_on_the_public_api() -> None:
    reached = {
        (name, imported)
        for name in MODULES
        if name.startswith("bulk_loader.cli")
        for imported in imports(name)
        if imported not in CLI_MAY_USE and not imported.startswith("bulk_loader.cli")
    }
    assert reached == set()


def test_the_sandbox_imports_nothing_of_the_client_side() -> None:
    reached = {
        (name, imported)
        for name in MODULES
        if name.startswith("bulk_loader.sandbox")
        for imported in imports(name)
        if imported != "bulk_loader.errors" and not imported.startswith("bulk_loader.sandbox")
    }
    assert reached == set()


def test_the_checks_see_what_they_look_for() -> None:
    """The graph is read for real: a known import, a lazy one, and one by name only."""
    assert "bulk_loader.pipeline.scan" in imports("bulk_loader.pipeline.importer")
    assert "bulk_loader.sheets.xlsx_file" in imports("bulk_loader.sheets.opening")  # lazy
    assert "bulk_loader.scratch" in imports("bulk_loader.cli.app")  # `from bulk_loader import`
    assert "click" in foreign_imports("bulk_loader.cli.common")


def folder(name: str) -> str:
    """The stage a module belongs to: its folder under bulk_loader, or the module itself."""
    return ".".join(name.split(".")[:2])


def test_the_stages_import_one_way_only() -> None:
    """No two folders import each other, not even through different modules: a stage
    stands above what it uses (template below validation, validation below sending...)."""
    pairs = {
        (folder(name), folder(imported))
        for name in MODULES
        for imported in imports(name)
        if folder(name) != folder(imported) and folder(imported) != "bulk_loader"
    }
    both_ways = sorted((a, b) for a, b in pairs if (b, a) in pairs and a < b)
    assert both_ways == []
