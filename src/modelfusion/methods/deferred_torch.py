"""Import the method modules without loading torch (it takes seconds), so listing methods is instant.

While the built-in method modules are imported, `sys.modules["torch"]` holds a stand-in module: their
`import torch` binds it, and nothing else happens. The first attribute a method reads from it (`torch.stack`,
...) imports the real torch, rebinds `torch` in every module that holds the stand-in to the real module, and
answers from it. The stand-in leaves `sys.modules` as soon as the method modules are imported, so every
other `import torch` is an ordinary one. Method modules may therefore import torch at the top, but must not
use a torch attribute at module level (annotations are fine under `from __future__ import annotations`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()


class _DeferredTorch(types.ModuleType):
    """Stands in for torch; the first attribute read loads the real module."""

    def __getattr__(self, attr: str) -> Any:  # called only for attributes missing from __dict__
        return getattr(_load_real_torch(self), attr)


def _load_real_torch(stand_in: _DeferredTorch) -> types.ModuleType:
    with _lock:
        if sys.modules.get("torch") is stand_in:
            del sys.modules["torch"]
        real = importlib.import_module("torch")
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if isinstance(namespace, dict) and namespace.get("torch") is stand_in:
                namespace["torch"] = real
        stand_in.__dict__.update(real.__dict__)  # any other holder now reads the real attributes directly
        return real


@contextlib.contextmanager
def torch_deferred() -> Iterator[None]:
    """Within the block, `import torch` (if torch is not imported yet) binds a stand-in that loads on use."""
    if "torch" in sys.modules:
        yield
        return
    spec = importlib.util.find_spec("torch")
    if spec is None:
        yield
        return
    stand_in = _DeferredTorch("torch")
    stand_in.__spec__ = spec  # what `import torch` inspects; __path__ and the rest load the real module
    sys.modules["torch"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("torch") is stand_in:
            del sys.modules["torch"]
