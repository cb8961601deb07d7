"""Load YAML safely, keeping the line of each key so validation errors can point at the line.

Shared by every YAML file modelfusion reads (recipes, search configs, ensemble configs). Hostile YAML is refused
before it is built into Python objects: a file larger than MAX_YAML_BYTES (checked before it is read whole),
nesting deeper than MAX_DEPTH, or more than MAX_NODES nodes once aliases are expanded (a 'billion laughs' alias
bomb, or an alias that contains itself). Errors are UserErrors naming the file; `what` names the kind of file in
them and `error` is the error class to raise (a RecipeError by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelfusion.errors import RecipeError, UserError

MAX_YAML_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

Lines = dict[tuple, int]
"""The line (1-based) of every key path of a document: ("models", 0, "model") -> 4."""


def read_yaml_file(path: Path, what: str = "recipe", error: type[UserError] = RecipeError) -> str:
    """The UTF-8 text of `path`; an oversize file is refused after reading MAX_YAML_BYTES + 1 bytes of it."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise error(f"no such {what} file", str(path)) from None
    except OSError as e:
        raise error(f"cannot read {what}: {e}", str(path)) from None
    if len(data) > MAX_YAML_BYTES:
        raise error(f"{what} is larger than {MAX_YAML_BYTES // 1024} KiB; refusing to parse", str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"cannot read {what}: {e}", str(path)) from None


def load_document(
    text: str, where: str, what: str = "recipe", error: type[UserError] = RecipeError
) -> tuple[Any, Lines]:
    """The single YAML document in `text` and the line of each of its keys."""
    docs = load_documents(text, where, what, error)
    if len(docs) != 1:
        raise error(f"a {what} is one YAML document, found {len(docs)} ('---' separators)", where)
    return docs[0]


def load_documents(
    text: str, where: str, what: str = "recipe", error: type[UserError] = RecipeError
) -> list[tuple[Any, Lines]]:
    """Parse every YAML document in `text` (mergekit multi-stage recipes use `---`), refusing hostile YAML."""
    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        raise error(f"{what} is larger than {MAX_YAML_BYTES // 1024} KiB; refusing to parse", where)
    try:
        _check_depth(text, where, error)
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise error(f"invalid YAML{line}: {problem}", where) from None
    except RecursionError:
        raise error(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", where) from None
    out = []
    for node in nodes:
        if node is None:
            continue
        lines = _collect_lines(node, where, what, error)
        try:
            data = yaml.SafeLoader("").construct_document(node)
        except yaml.YAMLError as e:
            raise error(f"invalid YAML: {e}", where) from None
        out.append((data, lines))
    if not out:
        raise error(f"{what} is empty", where)
    return out


_OPEN = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_depth(text: str, where: str, error: type[UserError]) -> None:
    """Refuse deep nesting from the token stream (the scanner is iterative; the composer would recurse)."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise error(f"invalid YAML: nested more than {MAX_DEPTH} levels deep", where)
        elif isinstance(token, _CLOSE):
            depth -= 1


def _collect_lines(root: yaml.Node, where: str, what: str, error: type[UserError]) -> Lines:
    """The line of every key path; walks the node graph as it would expand, within the size budget."""
    lines: Lines = {}
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
            raise error(f"refusing to load a {what} with {problem} (alias bomb or recursive alias?)", where)
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


def line_of(lines: Lines, loc: tuple) -> int | None:
    """The line of the deepest known prefix of `loc`."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None
