"""The structure of a PyTorch training checkpoint: which tensors are the model's, under which names.

A `.pt/.pth/.bin/.ckpt` file may hold a bare state dict or a tree: `{"state_dict": ..., "epoch": 3}`,
`{"model": ..., "ema": ..., "optimizer": ...}`, DataParallel's `module.` prefixes, nested dicts. The model's
tensors are named as in `model.state_dict()`: the primary state dict's keys (found under `state_dict`, `model`,
... or the root) without a `module.` prefix its keys all share; any other tensor is named by its path, e.g.
`ema.features.0.weight`. Optimizer and scheduler state are dropped from a merge; every other entry (epoch,
hyper-parameters) is carried from the base model when the output is written in the same layout.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

PRIMARY_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "params", "weight")
"""Where a checkpoint's model weights sit, in order of preference (`weight`: RVC voice models)."""
DROPPED_KEYS = frozenset(
    {
        "optimizer",
        "optimizers",
        "optimizer_state_dict",
        "optimizer_states",
        "optim",
        "scheduler",
        "lr_scheduler",
        "lr_schedulers",
        "scheduler_state_dict",
        "scaler",
        "grad_scaler",
        "amp",
    }
)
"""Top-level entries that describe training state, not the model: not merged, not written out."""
DP_PREFIX = "module."

Key = str | int
TreePath = tuple[Key, ...]


@dataclass(frozen=True)
class TensorTree:
    """Where each named tensor sits in the loaded object (with the original keys), and what was dropped."""

    paths: dict[str, TreePath]
    primary: TreePath
    """The path of the primary state dict (`()`: the root)."""
    primary_prefix: str
    """`module.` when every key of the primary state dict carries it (DataParallel), else ''."""
    dropped: tuple[str, ...]


def _has_tensors(obj: object) -> bool:
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, Mapping):
        return any(_has_tensors(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_has_tensors(v) for v in obj)
    return False


def _primary(root: object) -> TreePath:
    path: TreePath = ()
    node = root
    while isinstance(node, Mapping) and not any(isinstance(v, torch.Tensor) for v in node.values()):
        key = next((k for k in PRIMARY_KEYS if k in node and _has_tensors(node[k])), None)
        if key is None:
            break
        path, node = (*path, key), node[key]
    return path


def _leaves(obj: object, path: TreePath) -> Iterator[tuple[TreePath, torch.Tensor]]:
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            if not path and k in DROPPED_KEYS:
                continue
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))


def _dp_prefix(node: object) -> str:
    """`module.` when every tensor key of this dict starts with it (nn.DataParallel / DDP state dicts)."""
    if not isinstance(node, Mapping):
        return ""
    keys = [k for k, v in node.items() if isinstance(v, torch.Tensor)]
    return DP_PREFIX if keys and all(isinstance(k, str) and k.startswith(DP_PREFIX) for k in keys) else ""


def _node(root: object, path: TreePath) -> object:
    for k in path:
        root = root[k]  # type: ignore[index]
    return root


def read_tree(root: object) -> tuple[dict[str, torch.Tensor], TensorTree] | str:
    """The named tensors of a loaded checkpoint and where they sit, or a problem (a sentence) if none or
    two share a name."""
    if isinstance(root, torch.Tensor) or not isinstance(root, Mapping):
        return "holds no state dict (expected a dict of tensors, possibly nested under 'state_dict' or 'model')"
    primary = _primary(root)
    primary_prefix = _dp_prefix(_node(root, primary))
    tensors: dict[str, torch.Tensor] = {}
    paths: dict[str, TreePath] = {}
    for path, tensor in _leaves(root, ()):
        in_primary = path[: len(primary)] == primary
        parts = [str(p) for p in (path[len(primary) :] if in_primary else path)]
        direct = in_primary and len(path) == len(primary) + 1
        prefix = primary_prefix if direct else _dp_prefix(_node(root, path[:-1]))
        if prefix and parts and parts[-1].startswith(prefix):
            parts[-1] = parts[-1][len(prefix) :]
        name = ".".join(parts)
        if name in tensors:
            return f"two tensors would both be named '{name}' (at {_show(paths[name])} and {_show(path)})"
        tensors[name] = tensor
        paths[name] = path
    if not tensors:
        return "holds no tensors (expected a state dict)"
    dropped = tuple(str(k) for k in root if k in DROPPED_KEYS)
    return tensors, TensorTree(paths, primary, primary_prefix, dropped)


def _show(path: TreePath) -> str:
    return "".join(f"[{k!r}]" for k in path) or "the root"


def rebuild(root: object, tree: TensorTree, tensors: Mapping[str, torch.Tensor]) -> object:
    """`root` with each named tensor replaced by `tensors[name]`: tensors absent from `tensors` are left out
    (entries of dicts; None in lists), names new to `root` go into the primary state dict, dropped entries
    (optimizer state) are removed, everything else is kept as it was."""
    by_path = {path: name for name, path in tree.paths.items()}

    def build(obj: object, path: TreePath) -> object:
        if isinstance(obj, torch.Tensor):
            name = by_path.get(path)
            return tensors.get(name) if name is not None else obj
        if isinstance(obj, Mapping):
            out = OrderedDict() if isinstance(obj, OrderedDict) else {}
            for k, v in obj.items():
                if not path and k in DROPPED_KEYS:
                    continue
                value = build(v, (*path, k))
                if value is not None or not isinstance(v, torch.Tensor):
                    out[k] = value
            return out
        if isinstance(obj, list | tuple):
            items = [build(v, (*path, i)) for i, v in enumerate(obj)]
            return items if isinstance(obj, list) else tuple(items)
        return obj

    out = build(root, ())
    primary = _node(out, tree.primary)
    for name, tensor in tensors.items():
        if name not in tree.paths:
            primary[tree.primary_prefix + name] = tensor  # type: ignore[index]
    return out
