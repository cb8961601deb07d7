"""modelfusion and FusionBench 0.2.33 give the same merges (TSV-M, Iso-C, Iso-CTS, RegMean, Fisher) on tiny
models, within float32 rounding; the one documented difference (RegMean on a singular Gram sum, alpha = 1) is
checked for what modelfusion promises instead: an exact solution of the normal equations."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.parity.fusionbench_harness import CASES, PYTHON, TASKS, build, run_fusionbench, run_modelfusion

pytestmark = [
    pytest.mark.fusionbench,
    pytest.mark.skipif(not PYTHON.exists(), reason=f"FusionBench 0.2.33 is not installed: no {PYTHON} (make peers)"),
]

TOLERANCE = {"tsv": 1e-6, "iso_c": 1e-6, "iso_cts": 1e-6, "fisher": 1e-6, "regmean": 1e-5}
"""Entries are O(1). The SVD family and Fisher differ by float32 rounding only (mean of task vectors as a sum
over T or a running mean, the polar factor of a padded basis); RegMean by FusionBench's float32 inverse against
modelfusion's float64 solve (Gram condition numbers here up to ~1e4)."""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    path = tmp_path_factory.mktemp("fusionbench")
    build(path)
    run_fusionbench(path)
    return path


@pytest.mark.parametrize("name", [n for n in CASES if n != "regmean_exact"])
def test_same_merge_as_fusionbench(name, work):
    ours = run_modelfusion(work, name, CASES[name])
    theirs = load_file(str(work / f"out_{name}.safetensors"))
    assert set(ours) == set(theirs)
    diff = max(float((ours[n].double() - theirs[n].double()).abs().max()) for n in ours)
    assert diff <= TOLERANCE[CASES[name]["method"]], f"{name}: {diff:.2e}"


def test_regmean_on_a_singular_gram_sum_solves_the_normal_equations(work):
    """After a LayerNorm (weight 1, bias 0) every input row sums to zero, so `mid`'s Grams are singular and with
    alpha = 1 so is their sum (condition ~1e8): FusionBench's float32 inverse then misses the normal equations
    (residual ~8 here); modelfusion's float64 solve meets them."""
    name = "regmean_exact"
    ours = run_modelfusion(work, name, CASES[name])
    grams = [load_file(str(work / "mf" / f"{name}_m{i}.stats.safetensors")) for i in range(1, TASKS + 1)]
    weights = [load_file(str(work / f"m{i}.safetensors")) for i in range(1, TASKS + 1)]
    for entry in grams[0]:
        tensor = entry.removeprefix("gram:")
        total = sum(g[entry].double() for g in grams)
        rhs = sum(w[tensor].double() @ g[entry].double() for w, g in zip(weights, grams))
        residual = float((ours[tensor].double() @ total - rhs).abs().max())
        assert residual <= 1e-5 * float(rhs.abs().max()), f"{tensor}: {residual:.2e}"
    theirs = load_file(str(work / f"out_{name}.safetensors"))
    for tensor in ("inp.weight", "out.weight", "norm.weight", "inp.bias"):  # well-posed: the same merge
        assert torch.allclose(ours[tensor], theirs[tensor], atol=1e-4, rtol=0), tensor
