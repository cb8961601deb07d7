"""Row blocks: how a streamed merge method sees a large tensor, one piece at a time.

A streamed method is a generator `streamed(source, **params)` that may read the blocks of `source` several
times (statistics passes: norms, selection thresholds, L1 sums) and then yields the output block by block, in
order. The whole-tensor function of the same method is the one-block case (`WholeTensors`), so both share one
implementation of the math. Blocks split the first dimension only: every block holds complete rows of the
last dimension (DELLA ranks within rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # torch is imported lazily: listing methods must not load it
    import torch


class Block:
    """One row block of every input, in the compute dtype, read when first used (a pass that needs only some
    of them, or none, reads only those). `base` is None for methods without a base.

    Plain attributes, not `functools.cached_property`: on Python 3.11 that holds one lock per class while it
    computes, so two merge threads would take turns reading their (different) blocks."""

    __slots__ = ("_base", "_base_loaded", "_load_base", "_load_tensors", "_tensors", "index")

    def __init__(
        self,
        index: int,
        tensors: Callable[[], list[torch.Tensor]],
        base: Callable[[], torch.Tensor | None],
    ):
        self.index = index
        self._load_tensors, self._load_base = tensors, base
        self._tensors: list[torch.Tensor] | None = None
        self._base: torch.Tensor | None = None
        self._base_loaded = False

    @property
    def tensors(self) -> list[torch.Tensor]:
        if self._tensors is None:
            self._tensors = self._load_tensors()
        return self._tensors

    @property
    def base(self) -> torch.Tensor | None:
        if not self._base_loaded:
            self._base, self._base_loaded = self._load_base(), True
        return self._base


class BlockSource(Protocol):
    """The inputs of one output tensor, as `count` row blocks that can be read any number of times."""

    count: int
    numel: int
    """Entries of each input tensor (all blocks together)."""
    models: int
    """Inputs besides the base."""
    has_base: bool

    def block(self, index: int) -> Block: ...

    def generator(self, index: int) -> torch.Generator | None:
        """A random generator for block `index`, in the same state on every call (so a statistics pass and
        the output pass draw the same masks). None for deterministic merges."""
        ...


def blocks(source: BlockSource) -> Iterator[Block]:
    """Every block of `source`, in order."""
    for i in range(source.count):
        yield source.block(i)


class WholeTensors:
    """A source of one block: the whole tensors. The generator is rewound to its starting state on each
    `generator(0)` call, so repeated passes see the same random draws."""

    count = 1

    def __init__(self, tensors: list[torch.Tensor], base: torch.Tensor | None, generator: torch.Generator | None):
        self._block = Block(0, lambda: tensors, lambda: base)
        self.numel = (base if base is not None else tensors[0]).numel()
        self.models, self.has_base = len(tensors), base is not None
        self._generator = generator
        self._start = generator.get_state() if generator is not None else None

    def block(self, index: int) -> Block:
        return self._block

    def generator(self, index: int) -> torch.Generator | None:
        if self._generator is not None:
            self._generator.set_state(self._start)
        return self._generator


StreamedFn = Callable[..., Iterator["torch.Tensor"]]
"""`streamed(source, **params)` -> the output's row blocks, in order."""


def whole_tensor(streamed: StreamedFn) -> Callable[..., torch.Tensor]:
    """The plain `fn(tensors, base=..., generator=..., **params)` form of a streamed method (one block)."""

    def fn(tensors: list[torch.Tensor], *, base: Any = None, generator: Any = None, **params: Any) -> torch.Tensor:
        parts = list(streamed(WholeTensors(tensors, base, generator), **params))
        if len(parts) != 1:
            raise RuntimeError(f"{streamed.__name__} yielded {len(parts)} blocks for one input block")
        return parts[0]

    fn.__name__ = streamed.__name__
    fn.__doc__ = streamed.__doc__
    return fn
