"""The method contract: what a merge method takes, consumes and costs, as torch-free data.

A `MergeMethod` names its math by reference ("modelfusion.methods.linear:linear"); the module holding it (which
imports torch) is imported the first time the method runs, so listing methods and validating recipes never
load torch. The engine asks the method how it runs (`can_stream`, `memory`, `passes`) and never looks inside.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Literal

from modelfusion.methods.memory import JobSize, block_memory, multipass_memory, whole_tensor_memory
from modelfusion.methods.statistics import StatisticSpec

if TYPE_CHECKING:  # only for annotations: this module never imports torch
    import torch

    from modelfusion.methods.blocks import BlockSource

BaseRole = Literal["none", "separate", "optional"]
"""How a method uses `base_model`:
- "none": the base is an ordinary input if listed in `models` (averaging methods);
- "separate": the base is required and passed apart from the other models (task-vector methods, SLERP);
- "optional": passed apart if given, else absent.
"""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a merge method.

    per_model: the value can differ per input model (e.g. `weight`); otherwise it is global (e.g. `t`).
    default: `None` with `required=True` means the recipe must give it.
    """

    name: str
    type: type
    default: Any = None
    required: bool = False
    low: float | None = None
    high: float | None = None
    per_model: bool = False
    help: str = ""
    arg: str | None = None
    """The Python keyword the function takes it as, when the recipe name is not a valid one (e.g. `lambda`)."""

    @property
    def kwarg(self) -> str:
        return self.arg or self.name

    def check(self, value: Any) -> str | None:
        """Return a problem description, or None if `value` is acceptable."""
        if self.type is bool:
            if not isinstance(value, bool):
                return f"parameter '{self.name}' must be true or false, got {value!r}"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"parameter '{self.name}' must be a number, got {value!r}"
        if self.type is int and float(value) != int(value):
            return f"parameter '{self.name}' must be an integer, got {value!r}"
        if self.low is not None and value < self.low:
            return f"parameter '{self.name}' = {value} is below its minimum {self.low}"
        if self.high is not None and value > self.high:
            return f"parameter '{self.name}' = {value} is above its maximum {self.high}"
        return None

    def coerce(self, value: Any) -> Any:
        if self.type is bool:
            return bool(value)
        return self.type(value)


@cache
def _resolve(ref: str, bound: tuple[tuple[str, Any], ...]) -> Callable[..., Any]:
    """The function `ref` ("package.module:name") names, imported now, with `bound` keywords fixed."""
    module, _, attr = ref.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    if not bound:
        return fn
    bound_fn = partial(fn, **dict(bound))
    bound_fn.__name__ = attr  # type: ignore[attr-defined]  (whole_tensor names its wrapper after it)
    return bound_fn


MemoryModel = Callable[[JobSize], int]


@dataclass(frozen=True)
class MergeMethod:
    """A registered merge method: a reference to a pure tensor function plus what it needs.

    The function is called as `fn(tensors, **params)` where `tensors` is the list of input tensors (one per
    model, base excluded when base_role is "separate"), per-model params are lists aligned with `tensors`, and
    global params are scalars. It also gets `base=` if `base_role != "none"`, `generator=` (a CPU
    torch.Generator) if `random`, and one keyword per declared statistic: a list of tensors aligned with
    `tensors`, or None for a tensor the statistic does not apply to (the method's declared fallback).
    """

    name: str
    fn: str | None
    """"module:function" of the whole-tensor function; None: the one-block case of `streamed`."""
    params: tuple[ParamSpec, ...]
    base_role: BaseRole = "none"
    min_models: int = 1
    max_models: int | None = None
    random: bool = False
    summary: str = ""
    paper: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    check_params: Callable[[dict[str, Any]], str | None] | None = None
    """Cross-parameter check run at plan time on one tensor's resolved parameters: a problem, or None.
    Must live in a torch-free module (it runs while recipes are validated)."""
    elementwise: bool = False
    """Each output entry depends only on the same entry of the inputs (no norms, ranks or other whole-tensor
    statistics), so the engine may compute a large tensor in row blocks with a bit-identical result."""
    nonfinite_propagates: bool = False
    """A NaN or Inf in any input entry makes the output entry NaN or Inf (a weighted sum with finite weights:
    w Inf is Inf, 0 Inf is NaN), so the engine may check each output block instead of every input block, and
    look at the inputs only when the output is not finite."""
    streamed: str | None = None
    """"module:function" of the same method as `streamed(source, **params)` over row blocks (methods/blocks.py):
    whole-tensor statistics in passes over the blocks, then the output block by block."""
    bound: tuple[tuple[str, Any], ...] = ()
    """Keywords fixed for this method when its functions are called (one family function, several methods)."""
    statistics: tuple[StatisticSpec, ...] = ()
    """Per-tensor statistics the method consumes, per input model (methods/statistics.py)."""
    streamed_memory: MemoryModel = multipass_memory
    """Peak bytes of one job run over row blocks (memory.py)."""
    whole_memory: MemoryModel = whole_tensor_memory
    """Peak bytes of one job run on whole tensors (memory.py)."""
    passes: Callable[[Mapping[str, Any]], int] | None = None
    """Reads of every input block for one job with these parameters; None: one."""

    # -- what the engine asks ---------------------------------------------------------------------------------
    @property
    def can_stream(self) -> bool:
        """Whether the method runs over row blocks: it has a streamed form, or it is elementwise and draws nothing
        (the engine then calls the whole-tensor function block by block). Statistics are read whole."""
        if self.statistics:
            return False
        return self.streamed is not None or (self.elementwise and not self.random)

    def memory(self, job: JobSize) -> int:
        """Estimated peak bytes of one job (`job.block_elements` set: run over row blocks)."""
        if job.block_elements is None:
            return self.whole_memory(job)
        if self.streamed is None:  # an elementwise function called block by block: nothing kept between blocks
            return block_memory(job)
        return self.streamed_memory(job)

    def pass_count(self, params: Mapping[str, Any]) -> int:
        """How many times each input block is read for one job."""
        return 1 if self.passes is None else self.passes(params)

    # -- the math, imported on first use ------------------------------------------------------------------------
    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def statistic(self, name: str) -> StatisticSpec | None:
        return next((s for s in self.statistics if s.name == name), None)

    @property
    def function(self) -> Callable[..., torch.Tensor]:
        """The whole-tensor function (importing its module, and torch, on first use)."""
        if self.fn is not None:
            return _resolve(self.fn, self.bound)
        if self.streamed is None:
            raise TypeError(f"method {self.name} names no function")
        from modelfusion.methods.blocks import whole_tensor

        return whole_tensor(_resolve(self.streamed, self.bound))

    def _kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        kwargs = {}
        for name, value in params.items():
            spec = self.param(name)
            kwargs[spec.kwarg if spec else name] = value
        return kwargs

    def stream(self, source: BlockSource, params: dict[str, Any]) -> Iterator[torch.Tensor]:
        """The output's row blocks, in order, from the blocks of `source` (needs `streamed`)."""
        if self.streamed is None:
            raise TypeError(f"method {self.name} has no streamed form")
        return _resolve(self.streamed, self.bound)(source, **self._kwargs(params))

    def __call__(
        self,
        tensors: list[torch.Tensor],
        params: dict[str, Any],
        base: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        statistics: Mapping[str, list[torch.Tensor] | None] | None = None,
    ) -> torch.Tensor:
        kwargs = self._kwargs(params)
        if self.base_role != "none":
            kwargs["base"] = base
        if self.random:
            kwargs["generator"] = generator
        for stat in self.statistics:
            kwargs[stat.name] = (statistics or {}).get(stat.name)
        return self.function(tensors, **kwargs)
