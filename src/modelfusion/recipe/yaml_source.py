"""Load YAML keeping the line of each key, so validation errors can point at the recipe line."""

from __future__ import annotations

from typing import Any

import yaml

from modelfusion.errors import RecipeError

MAX_RECIPE_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64


def load_documents(text: str, where: str) -> list[tuple[Any, dict[tuple, int]]]:
    """Parse every YAML document in `text` (mergekit multi-stage recipes use `---`).

    Hostile YAML is refused before it is built into Python objects: more than MAX_RECIPE_BYTES of text,
    nesting deeper than MAX_DEPTH, or more than MAX_NODES nodes once aliases are expanded (a 'billion
    laughs' alias bomb, or an alias that contains itself).
    """
    if len(text.encode("utf-8", "replace")) > MAX_RECIPE_BYTES:
        raise RecipeError(f"recipe is larger than {MAX_RECIPE_BYTES // 1024} KiB; refusing to parse", where)
    try:
        _check_depth(text, where)
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise RecipeError(f"invalid YAML{line}: {problem}", where) from None
    except RecursionError:
        raise RecipeError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", where) from None
    out = []
    for node in nodes:
        if node is None:
            continue
        lines = _collect_lines(node, where)
        try:
            data = yaml.SafeLoader("").construct_document(node)
        except yaml.YAMLError as e:
            raise RecipeError(f"invalid YAML: {e}", where) from None
        out.append((data, lines))
    if not out:
        raise RecipeError("recipe is empty", where)
    return out


_OPEN = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_depth(text: str, where: str) -> None:
    """Refuse deep nesting from the token stream (the scanner is iterative; the composer would recurse)."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise RecipeError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", where)
        elif isinstance(token, _CLOSE):
            depth -= 1


def _collect_lines(root: yaml.Node, where: str) -> dict[tuple, int]:
    """The line of every key path; walks the node graph as it would expand, within the size budget."""
    lines: dict[tuple, int] = {}
    stack: list[tuple[yaml.Node, tuple]] = [(root, ())]
    visited = 0
    while stack:
        node, path = stack.pop()
        visited += 1
        if visited > MAX_NODES or len(path) > MAX_DEPTH:
            problem = (
                f"more than {MAX_NODES} values once aliases are expanded"
                if visited > MAX_NODES
                else f"nested more than {MAX_DEPTH} levels deep"
            )
            raise RecipeError(f"refusing to load a recipe with {problem} (alias bomb or recursive alias?)", where)
        lines.setdefault(path, node.start_mark.line + 1)  # a key's own line wins over its (block) value's
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else "?"
                lines[(*path, k)] = key.start_mark.line + 1
                stack.append((key, (*path, "?key")))
                stack.append((value, (*path, k)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return lines


def line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    """The line of the deepest known prefix of `loc`."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
