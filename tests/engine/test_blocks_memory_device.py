"""Engine performance paths: row blocks for elementwise methods, the memory budget, pread reads, --device."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest
import torch
from safetensors.torch import save_file

import modelfusion.engine.execute as execute
import modelfusion.engine.runner as runner
from modelfusion import merge_state_dicts
from modelfusion.checkpoint.safetensors_file import SafetensorsFile
from modelfusion.engine.device import checked_device
from modelfusion.errors import CheckpointError, UserError


def _models(seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"big": (37, 11), "vec": (29,), "small": (3, 2)}
    return [{n: torch.randn(s, generator=g).to(torch.bfloat16) for n, s in shapes.items()} for _ in range(3)]


def _linear_expected(ms: list[dict[str, torch.Tensor]], w: list[float], name: str) -> torch.Tensor:
    out = ms[0][name].float() * w[0]
    for m, wi in zip(ms[1:], w[1:]):
        out.add_(m[name].float(), alpha=wi)
    return out.div_(sum(w)).to(torch.bfloat16)


class _CountingBlocks(execute.RowBlocks):
    """RowBlocks that records how many blocks each tensor shape was split into."""

    seen: ClassVar[dict[tuple[int, ...], int]] = {}

    def __init__(self, readers, base, shape, *args, **kwargs):
        super().__init__(readers, base, shape, *args, **kwargs)
        _CountingBlocks.seen[tuple(shape)] = self.count


@pytest.mark.parametrize("threads", [1, 2])
def test_linear_in_row_blocks_equals_whole_tensor_math(monkeypatch, threads) -> None:
    monkeypatch.setattr(execute, "BLOCK_ELEMENTS", 20)  # 'big' runs as 37 one-row blocks, 'vec' in 2 blocks
    monkeypatch.setattr(execute, "RowBlocks", _CountingBlocks)
    _CountingBlocks.seen = {}
    ms, w = _models(), [0.5, 0.3, 0.2]
    out = merge_state_dicts(ms, method="linear", weight=w, threads=threads)
    assert _CountingBlocks.seen == {(37, 11): 37, (29,): 2, (3, 2): 1}
    for name in ms[0]:
        assert torch.equal(out[name], _linear_expected(ms, w, name)), name


def test_task_arithmetic_in_row_blocks_equals_formula(monkeypatch) -> None:
    monkeypatch.setattr(execute, "BLOCK_ELEMENTS", 24)
    ms = _models(1)
    out = merge_state_dicts(ms[1:], method="task_arithmetic", base=ms[0], weight=[0.7, 0.4])
    for name, b in ms[0].items():
        b32 = b.float()
        d = torch.stack([ms[1][name].float() - b32, ms[2][name].float() - b32])
        w = torch.tensor([0.7, 0.4]).view(-1, *([1] * b.dim()))
        expected = (b32 + 1.0 * (d * w).sum(dim=0)).to(torch.bfloat16)
        assert torch.equal(out[name], expected), name


def test_memory_budget_runs_big_jobs_one_at_a_time(monkeypatch) -> None:
    """With a budget smaller than any job, no two jobs are ever in flight together, and the result is unchanged."""
    running, most = [0], [0]
    lock = threading.Lock()
    real = runner.run_job

    def counting(plan, job, dev, options):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return real(plan, job, dev, options)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(runner, "run_job", counting)
    ms, w = _models(2), [1.0, 1.0, 2.0]
    plan_result = {}

    from modelfusion.checkpoint import open_checkpoint
    from modelfusion.plan import build_plan  # the plan of a state-dict merge, run with a tiny budget
    from modelfusion.recipe import Recipe

    ckpts = {f"m{i}": open_checkpoint(m, label=f"m{i}") for i, m in enumerate(ms)}
    recipe = Recipe.model_validate(
        {"merge_method": "linear", "models": [{"model": k, "parameters": {"weight": wi}} for k, wi in zip(ckpts, w)]}
    )
    plan = build_plan(recipe, ckpts)
    runner.run_plan(plan, lambda job, t: plan_result.__setitem__(job.out.name, t), threads=2, memory_budget=1)
    assert most[0] == 1
    for name in ms[0]:
        assert torch.equal(plan_result[name], _linear_expected(ms, w, name)), name


def test_reads_are_owned_copies_and_truncation_is_reported(tmp_path) -> None:
    path = tmp_path / "m.safetensors"
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    save_file({"t": t, "u": torch.ones(5, dtype=torch.bfloat16)}, str(path))
    f = SafetensorsFile(path)
    got = f.read("t")
    assert torch.equal(got, t)
    got.add_(1)  # the caller owns the memory: the file and later reads are unaffected
    assert torch.equal(f.read("t"), t)
    assert torch.equal(f.read("u"), torch.ones(5, dtype=torch.bfloat16))
    f.close()
    g = SafetensorsFile(path)
    with open(path, "r+b") as fh:  # the file shrinks after it was opened
        fh.truncate(path.stat().st_size - 8)
    with pytest.raises(CheckpointError, match="past the end"):
        for name in ("t", "u"):
            g.read(name)
    g.close()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where CUDA is missing")
def test_cuda_without_cuda_is_a_user_error() -> None:
    with pytest.raises(UserError, match="CUDA is not available"):
        checked_device("cuda")
    with pytest.raises(UserError, match=r"unknown device|not supported"):
        checked_device("tpu")
    assert checked_device("cpu") == torch.device("cpu")
