"""The house rules of the code's layout (DESIGN.md, STYLE.md), checked from the source.

- ``exam`` never imports ``proctor``: the exam side announces (exam/signals.py),
  the proctor side listens;
- no import circle between packages (the rooms, the shared core, the app
  layer above them), counting imports inside functions too;
- no package uses another package's ``_private`` names;
- no module of ``exam/`` over ~400 lines, no file under ``cat_server/`` over ~600
  (migrations aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cat_server"
ROOMS = {"exam", "proctor", "admin", "itembank", "irt", "api", "sealed", "results", "issuer"}
# above every room: the app factory and the entry points that start the app
APP_LAYER = {"", "factory", "cli", "wsgi", "demo", "loadseed", "engine_cli", "tasks", "gclog"}
EXAM_MODULE_MAX = 420
FILE_MAX = 620


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def unit(module: str) -> str:
    """The package a module counts for: a room, the app layer, or the shared core."""
    parts = module.split(".")[1:]
    if parts and parts[0] in ROOMS:
        return parts[0]
    return "app" if (parts[0] if parts else "") in APP_LAYER else "core"


def imports(module: str, path: Path):
    """(imported module, imported name or None, line) for every import, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cat_server"):
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("cat_server"):
                continue
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:  # a module imported by name
                    yield f"{target}.{alias.name}", None, node.lineno
                else:
                    yield target, alias.name, node.lineno


EDGES = [
    (source, target, name, line)
    for source, path in MODULES.items()
    for target, name, line in imports(source, path)
]


def test_exam_never_imports_proctor():
    wrong = [
        f"{MODULES[s].relative_to(PACKAGE.parent)}:{line} imports {t}"
        for s, t, _, line in EDGES
        if unit(s) == "exam" and unit(t) == "proctor"
    ]
    assert not wrong, "exam announces (exam/signals.py); it never imports proctor:\n" + "\n".join(
        wrong
    )


def test_no_import_circle_between_packages():
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for s, t, _, line in EDGES:
        a, b = unit(s), unit(t)
        if a != b:
            graph.setdefault(a, set()).add(b)
            where.setdefault((a, b), f"{MODULES[s].relative_to(PACKAGE.parent)}:{line}")

    def reaches(start: str, goal: str, seen=()) -> list[str] | None:
        for nxt in sorted(graph.get(start, ())):
            if nxt == goal:
                return [start, goal]
            if nxt not in seen:
                path = reaches(nxt, goal, (*seen, nxt))
                if path:
                    return [start, *path]
        return None

    circles = []
    for a in sorted(graph):
        path = reaches(a, a)
        if path:
            steps = [f"{x} -> {y} ({where[(x, y)]})" for x, y in zip(path, path[1:], strict=False)]
            circles.append("; ".join(steps))
    assert not circles, "import circles between packages:\n" + "\n".join(circles)


def test_no_package_uses_another_packages_private_names():
    wrong = []
    for source, path in MODULES.items():
        tree = ast.parse(path.read_text())
        bound = {}  # local name -> module it was imported as
        for t, name, line in imports(source, path):
            if name and name.startswith("_") and not name.startswith("__") and name != "_":
                if unit(source) != unit(t):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} {t}.{name}")
            if name is None:
                bound[t.rpartition(".")[2]] = t
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and unit(bound[node.value.id]) != unit(source)
            ):
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno} "
                    f"{bound[node.value.id]}.{node.attr}"
                )
    assert not wrong, "another package's private names:\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if unit(m) == "exam"))
def test_no_exam_module_holds_two_rooms(module):
    n = len(MODULES[module].read_text().splitlines())
    assert n <= EXAM_MODULE_MAX, f"{module}: {n} lines; split it by concern"


def test_no_file_under_cat_server_is_too_long():
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > FILE_MAX
    }
    assert not long, f"over {FILE_MAX} lines: {long}"
