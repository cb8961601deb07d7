"""Parameter and method specifications: what a merge method takes, validated before any tensor is read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # torch is imported lazily: listing methods must not load it
    import torch

    from modelfusion.methods.blocks import BlockSource, StreamedFn

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


MergeFn = Callable[..., "torch.Tensor"]


@dataclass(frozen=True)
class MergeMethod:
    """A registered merge method: a pure tensor function plus what it needs.

    The function is called as `fn(tensors, **params)` where `tensors` is the list of input tensors (one per
    model, base excluded when base_role is "separate"), per-model params are lists aligned with `tensors`, and
    global params are scalars. It also gets `base=` if `base_role != "none"` and `generator=` if `random`.
    """

    name: str
    fn: MergeFn
    params: tuple[ParamSpec, ...]
    base_role: BaseRole = "none"
    min_models: int = 1
    max_models: int | None = None
    random: bool = False
    summary: str = ""
    paper: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    check_params: Callable[[dict[str, Any]], str | None] | None = None
    """Cross-parameter check run at plan time on one tensor's resolved parameters: a problem, or None."""
    elementwise: bool = False
    """Each output entry depends only on the same entry of the inputs (no norms, ranks or other whole-tensor
    statistics), so the engine may compute a large tensor in row blocks with a bit-identical result."""
    nonfinite_propagates: bool = False
    """A NaN or Inf in any input entry makes the output entry NaN or Inf (a weighted sum with finite weights:
    w Inf is Inf, 0 Inf is NaN), so the engine may check each output block instead of every input block, and
    look at the inputs only when the output is not finite."""
    streamed: StreamedFn | None = None
    """The same method as `streamed(source, **params)` over row blocks (methods/blocks.py): whole-tensor
    statistics in passes over the blocks, then the output block by block. `fn` is its one-block case."""

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

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
        return self.streamed(source, **self._kwargs(params))

    def __call__(
        self,
        tensors: list[torch.Tensor],
        params: dict[str, Any],
        base: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        kwargs = self._kwargs(params)
        if self.base_role != "none":
            kwargs["base"] = base
        if self.random:
            kwargs["generator"] = generator
        return self.fn(tensors, **kwargs)
