"""The import graph of src/modelfusion has no cycle; no module writes to sys.modules or patches other libraries.

Every `import` and `from ... import` counts, at module level and inside functions (a lazy import is still an
edge: it only hides the cycle until the function runs); imports under `if TYPE_CHECKING:` do not (they never
run). Relative imports are resolved, and `from pkg import name` is an edge to `pkg.name` when that is a module.
Importing `a.b.c` also runs `a/__init__` and `a/b/__init__`, but those implicit edges are left out: every module
would otherwise "import" the root package, and the root re-exports the API.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "modelfusion"
PACKAGE = "modelfusion"
SYS_MODULES_WRITES = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py under src/modelfusion."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"), filename=str(modules()[name]))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of `if TYPE_CHECKING:` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


def _base_of(name: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from X import ...` reads from."""
    if node.level == 0:
        return node.module or ""
    package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def resolved_imports(name: str) -> set[str]:
    """The dotted modelfusion names that module `name` imports (modules, or packages for `from pkg import attr`)."""
    found = set()
    for node in _walk_runtime(tree(name)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(name, node)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t.split(".")[0] == PACKAGE}
    return found


def imports_of(name: str) -> set[str]:
    """The modelfusion modules that module `name` imports (edges of the graph)."""
    return {t for t in resolved_imports(name) if t in modules() and t != name}


def graph() -> dict[str, set[str]]:
    return {name: imports_of(name) for name in modules()}


def strongly_connected(g: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module (a module never imports itself here)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(g):
        if start in index:
            continue
        work = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def one_cycle(g: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    inside, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(g[node] & inside):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
        frontier = nxt
    return component


def test_no_import_cycle() -> None:
    g = graph()
    cycles = [" -> ".join(one_cycle(g, c)) + f"  (component: {', '.join(c)})" for c in strongly_connected(g)]
    assert not cycles, "import cycles in src/modelfusion:\n" + "\n".join(cycles)


def test_every_import_of_modelfusion_resolves() -> None:
    missing = sorted(f"{n} imports {t}" for n in modules() for t in resolved_imports(n) if t not in modules())
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


def test_the_walk_sees_lazy_and_relative_imports() -> None:
    # A self-check on a made-up module: a cycle through a function-level import is found.
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(g) == [["a", "b", "c"]]
    assert one_cycle(g, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    # On the real tree: a function-level import (cli.merge_cmd imports modelfusion.api inside the command).
    assert "modelfusion.api" in imports_of("modelfusion.cli.merge_cmd")
    assert "modelfusion.cli.errors" in imports_of("modelfusion.cli.main") or "modelfusion.cli.errors" in imports_of(
        "modelfusion.cli.merge_cmd"
    )


def _sys_modules(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "modules"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def test_no_module_writes_to_sys_modules() -> None:
    writes = []
    for name in modules():
        for node in ast.walk(tree(name)):
            targets: list[ast.AST] = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            hit = any(isinstance(t, ast.Subscript) and _sys_modules(t.value) for t in targets)
            hit |= (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SYS_MODULES_WRITES
                and _sys_modules(node.func.value)
            )
            if hit:
                writes.append(f"{modules()[name].relative_to(ROOT.parent)}:{node.lineno}")
    assert not writes, f"writes to sys.modules: {writes}"


def _foreign_names(module: ast.Module) -> dict[str, str]:
    """Names a module binds to other libraries (modules, classes, functions imported from outside modelfusion)."""
    names = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != PACKAGE:
                    names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] != PACKAGE:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_setattr(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")


def test_no_monkeypatching_of_other_libraries() -> None:
    patches = []
    for name in modules():
        module = tree(name)
        foreign = _foreign_names(module)
        for node in ast.walk(module):
            targets: list[ast.AST] = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("setattr", "delattr")
            ):
                targets = [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
            for t in targets:
                if isinstance(t, ast.Attribute) and (root := _root_name(t)) in foreign:
                    where = f"{modules()[name].relative_to(ROOT.parent)}:{node.lineno}"
                    patches.append(f"{where}: {ast.unparse(t)} (an attribute of {foreign[root]})")
    assert not patches, "attributes of other libraries set by modelfusion:\n" + "\n".join(patches)
