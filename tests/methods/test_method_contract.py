"""The method contract: the engine asks the method (streaming, memory, passes); a new method needs no engine change."""

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import modelfusion
from modelfusion.engine.row_blocks import RowBlocks
from modelfusion.methods import JobSize, MergeMethod, ParamSpec, get_method, registry
from modelfusion.methods.memory import PASS_CACHE_BYTES

SRC = Path(__file__).resolve().parents[2] / "src" / "modelfusion"


def _size(block: int | None, **params) -> JobSize:
    return JobSize(
        numel=1000, element_size=4, out_bytes=2000, stored_bytes=6000, models=2, has_base=True,
        block_elements=block, params=params,
    )  # fmt: skip


def test_memory_models():
    refs = 3
    # streamed task-vector method: out + (5 refs + 6) block entries + rescale masks + kept task vectors
    expected = 2000 + (5 * refs + 6) * 100 * 4 + 2 * 1000 + min(PASS_CACHE_BYTES, 12 * 2 * 1000)
    assert get_method("dare_ties").memory(_size(100, rescale=True)) == expected
    assert get_method("ties").memory(_size(100, rescale=False)) == expected - 2 * 1000
    # an elementwise method called block by block keeps nothing between blocks
    assert get_method("linear").memory(_size(100)) == 2000 + (5 * refs + 6) * 100 * 4
    # whole tensors: one input as stored, (2 refs + 4) working copies, the output
    assert get_method("ties").memory(_size(None)) == 6000 // refs + (2 * refs + 4) * 1000 * 4 + 2000


def test_streaming_and_passes_are_the_methods_answers():
    assert get_method("linear").can_stream and get_method("ties").can_stream and get_method("slerp").can_stream
    assert not get_method("karcher").can_stream and not get_method("fisher").can_stream
    ties, dare = get_method("ties"), get_method("dare_linear")
    assert ties.pass_count({"rescale": False}) == 2 and ties.pass_count({"rescale": True}) == 3
    assert dare.pass_count({"rescale": True}) == 2 and get_method("task_arithmetic").pass_count({"rescale": True}) == 1


def test_specs_and_recipe_checks_do_not_import_torch():
    check = """
import sys
from modelfusion.methods import all_methods
from modelfusion.recipe import parse_recipe
della = [m for m in all_methods() if m.name == "della"][0]
assert della.check_params({"density": [0.5], "epsilon": [0.6]})
parse_recipe({"merge_method": "fisher", "models": [{"model": "a", "statistics": "a.safetensors"}]})
assert "torch" not in sys.modules, sorted(k for k in sys.modules if "torch" in k)
"""
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_no_sys_modules_writes_in_the_package():
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "sys.modules[" in p.read_text() and "= " in p.read_text().split("sys.modules[", 1)[1].split("\n", 1)[0]
    ]
    assert offenders == []


def scaled_sum(tensors: list[torch.Tensor], *, scale: float) -> torch.Tensor:
    """A new elementwise method living outside the engine: theta = scale * sum_i theta_i."""
    out = tensors[0] * scale
    for t in tensors[1:]:
        out.add_(t, alpha=scale)
    return out


def test_a_new_streamed_elementwise_method_needs_only_a_spec(tmp_path, monkeypatch):
    method = MergeMethod(
        name="scaled_sum_for_test",
        fn=f"{__name__}:scaled_sum",
        params=(ParamSpec("scale", float, default=0.5),),
        elementwise=True,
    )
    registry._load_builtin()
    monkeypatch.setitem(registry._METHODS, method.name, method)
    g = torch.Generator().manual_seed(0)
    models = [{"w": torch.randn(700, 512, generator=g)} for _ in range(2)]  # above one row block
    for i, m in enumerate(models):
        (tmp_path / f"m{i}").mkdir()
        save_file(m, str(tmp_path / f"m{i}" / "model.safetensors"))
    recipe = {"merge_method": method.name, "models": [{"model": str(tmp_path / f"m{i}")} for i in range(2)]}
    modelfusion.merge(recipe, tmp_path / "out")
    out = load_file(str(tmp_path / "out" / "model.safetensors"))["w"]
    torch.testing.assert_close(out, 0.5 * (models[0]["w"] + models[1]["w"]))


def test_block_generators_are_on_the_cpu_whatever_the_device():
    source = RowBlocks([lambda rows: torch.zeros(4)], None, (4,), lambda t: t, 4, seed_of=lambda i: 1, device="meta")
    assert source.generator(0).device == torch.device("cpu")
