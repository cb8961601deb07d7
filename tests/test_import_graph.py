"""The import graph of src/modelfusion has no cycle; no module writes to sys.modules or patches third-party code.

Every `import` and `from ... import` counts, at module level and inside functions (a lazy import is still an
edge: it only hides the cycle until the function runs); imports under `if TYPE_CHECKING:` do not (they never
run). Relative imports are resolved, and `from pkg import name` is an edge to `pkg.name` when that is a module.
Importing `a.b.c` also runs `a/__init__` and `a/b/__init__`, but those implicit edges are left out: every module
would otherwise "import" the root package, and the root re-exports the API.
"""

from __future__ import annotations

import ast
import sys
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


def test_the_walk_sees_cycles_lazy_and_relative_imports() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(g) == [["a", "b", "c"]]
    assert one_cycle(g, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    # relative imports, from a module and from a package's __init__
    relative = ast.parse("from .errors import UserError\nfrom ..plan import job\nfrom . import x").body
    assert _base_of("modelfusion.cli.main", relative[0]) == "modelfusion.cli.errors"
    assert _base_of("modelfusion.cli.main", relative[1]) == "modelfusion.plan"
    assert _base_of("modelfusion.cli", relative[2]) == "modelfusion.cli"
    # on the real tree: a function-level import (merge_cmd imports modelfusion.api inside the command) is an edge
    assert "modelfusion.api" in imports_of("modelfusion.cli.merge_cmd")


def _sys_modules(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "modules"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def _through_sys_modules(target: ast.AST) -> bool:
    """`sys.modules[k] = ...`, and also `sys.modules[k].attr = ...` (changing a registered module's class)."""
    while isinstance(target, ast.Attribute | ast.Subscript):
        if isinstance(target, ast.Subscript) and _sys_modules(target.value):
            return True
        target = target.value
    return False


def _written(node: ast.AST) -> list[ast.AST]:
    """What a statement assigns or deletes; for setattr / delattr, an attribute of their first argument."""
    if isinstance(node, ast.Assign | ast.Delete):
        return list(node.targets)
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return [node.target]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
        return [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
    return []


def sys_modules_writes(module: ast.Module) -> list[int]:
    """Lines that assign into sys.modules, delete from it, or call one of its mutating methods."""
    lines = []
    for node in ast.walk(module):
        call = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SYS_MODULES_WRITES
            and _sys_modules(node.func.value)
        )
        if call or any(_through_sys_modules(t) for t in _written(node)):
            lines.append(node.lineno)
    return lines


def _third_party(module: str) -> bool:
    top = module.split(".")[0]
    return top != PACKAGE and top not in sys.stdlib_module_names


def _foreign_names(module: ast.Module) -> dict[str, str]:
    """Names a module binds to third-party libraries (modules, classes, functions imported from them).

    The standard library's documented hooks (`warnings.showwarning`, ...) are not counted."""
    names = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _third_party(alias.name):
                    names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _third_party(node.module or ""):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def third_party_patches(module: ast.Module) -> list[str]:
    """'line: target (library)' for every attribute set on a name imported from a third-party library."""
    foreign = _foreign_names(module)
    return [
        f"{node.lineno}: {ast.unparse(t)} (an attribute of {foreign[root]})"
        for node in ast.walk(module)
        for t in _written(node)
        if isinstance(t, ast.Attribute) and (root := _root_name(t)) in foreign
    ]


def test_the_checks_see_patches_and_sys_modules_writes() -> None:
    source = """
import sys
import typer.core
from torch import nn
import warnings

def install():
    import click
    typer.core.TyperOption.process_value = None
    setattr(nn.Module, "x", 1)
    click.echo = print
    warnings.showwarning = print  # a documented stdlib hook: allowed
    sys.modules["torch"] = object()
    sys.modules[__name__].__class__ = type
    sys.modules.setdefault("x", None)
"""
    module = ast.parse(source)
    assert sorted(int(p.split(":")[0]) for p in third_party_patches(module)) == [9, 10, 11]
    assert sys_modules_writes(module) == [13, 14, 15]


def _file(name: str) -> Path:
    return modules()[name].relative_to(ROOT.parent)


def test_no_module_writes_to_sys_modules() -> None:
    writes = [
        f"{modules()[n].relative_to(ROOT.parent)}:{line}" for n in modules() for line in sys_modules_writes(tree(n))
    ]
    assert not writes, f"writes to sys.modules: {writes}"


def test_no_monkeypatching_of_third_party_libraries() -> None:
    patches = [f"{_file(n)}:{p}" for n in modules() for p in third_party_patches(tree(n))]
    assert not patches, "attributes of third-party libraries set by modelfusion:\n" + "\n".join(patches)
