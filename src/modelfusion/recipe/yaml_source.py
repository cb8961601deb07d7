"""Load YAML keeping the line of each key, so validation errors can point at the recipe line."""

from __future__ import annotations

from typing import Any

import yaml

from modelfusion.errors import RecipeError

MAX_RECIPE_BYTES = 1024 * 1024


def load_documents(text: str, where: str) -> list[tuple[Any, dict[tuple, int]]]:
    """Parse every YAML document in `text` (mergekit multi-stage recipes use `---`)."""
    if len(text.encode("utf-8", "replace")) > MAX_RECIPE_BYTES:
        raise RecipeError(f"recipe is larger than {MAX_RECIPE_BYTES // 1024} KiB; refusing to parse", where)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise RecipeError(f"invalid YAML{line}: {problem}", where) from None
    try:
        datas = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise RecipeError(f"invalid YAML: {e}", where) from None
    out = []
    for node, data in zip(nodes, datas):
        if node is None:
            continue
        lines: dict[tuple, int] = {}
        _collect_lines(node, (), lines)
        out.append((data, lines))
    if not out:
        raise RecipeError("recipe is empty", where)
    return out


def _collect_lines(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            lines[(*path, k)] = key.start_mark.line + 1
            _collect_lines(value, (*path, k), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, (*path, i), lines)


def line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    """The line of the deepest known prefix of `loc`."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
