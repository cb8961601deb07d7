"""Random methods (DARE, DELLA): the random draws differ between implementations, so the outputs are compared
by their statistics: the kept fraction, the exactness of the rescaling, DELLA's rank-dependent keep rates, and
the distribution of the mean over many seeds."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from tests.parity.harness import load_folder, run_modelfusion
from tests.parity.metrics import kept_fraction, rank_half_fractions, rescale_error
from tests.parity.recipes import DENSITY, RANDOM

pytestmark = pytest.mark.mergekit

KEPT_TOLERANCE = 0.02
RESCALE_TOLERANCE = 4.0
"""|error| of the rescaled survivors in float32 rounding units of the output: 'exact' up to rounding."""


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


@pytest.fixture(scope="module")
def single_outputs(parity_models, mergekit_outputs, modelfusion_dir):
    out = {}
    for name in ("dare_single", "della_single"):
        ours = load_folder(run_modelfusion(RANDOM[name], parity_models, modelfusion_dir / name, seed=0))
        out[name] = {"modelfusion": ours, "mergekit": load_folder(mergekit_outputs[name])}
    return out


@pytest.mark.parametrize("name", ["dare_single", "della_single"])
@pytest.mark.parametrize("who", ["modelfusion", "mergekit"])
def test_kept_fraction_is_the_density_and_rescaling_is_exact(name, who, single_outputs, parity_models):
    base, ft = _weights(parity_models["base"]), _weights(parity_models["ft1"])
    out = single_outputs[name][who]
    assert abs(kept_fraction(out, base) - DENSITY) <= KEPT_TOLERANCE
    assert rescale_error(out, base, ft) <= RESCALE_TOLERANCE


def test_della_keeps_large_magnitudes_more_often_like_mergekit(single_outputs, parity_models):
    base, ft = _weights(parity_models["base"]), _weights(parity_models["ft1"])
    ours = rank_half_fractions(single_outputs["della_single"]["modelfusion"], base, ft)
    theirs = rank_half_fractions(single_outputs["della_single"]["mergekit"], base, ft)
    assert ours[0] > ours[1] + 0.1  # epsilon = 0.2: p runs from 0.1 to 0.5 across each row
    for a, b in zip(ours, theirs):
        assert abs(a - b) <= KEPT_TOLERANCE


def _our_runs(spec: dict, name: str, seeds: range) -> torch.Tensor:
    from modelfusion.methods import get_method

    method_name, params = spec["recipes"][name]
    method = get_method(method_name)
    full = {p.name: params.get(p.name, p.default) for p in method.params}
    runs = [
        method(list(spec["models"]), full, base=spec["base"], generator=torch.Generator().manual_seed(s)) for s in seeds
    ]
    return torch.stack(runs)


RANDOM_METHODS = ["dare_linear", "dare_ties", "della_linear", "della"]


@pytest.mark.parametrize("name", RANDOM_METHODS)
def test_mean_over_seeds_has_the_same_distribution(name, seed_runs):
    """Two-sample check on the mean over S seeds, with modelfusion on other seeds than mergekit: the distance
    between the two means is the distance between two independent modelfusion means, within sampling noise."""
    spec, theirs = seed_runs["inputs"], seed_runs["mergekit"][name]
    s = theirs.shape[0]
    ours_a = _our_runs(spec, name, range(s, 2 * s)).mean(0)
    ours_b = _our_runs(spec, name, range(2 * s, 3 * s)).mean(0)
    cross = float((ours_a - theirs.mean(0)).norm())
    self_ = float((ours_a - ours_b).norm())
    assert 0.85 < cross / self_ < 1.18, (cross, self_)
    if name == "dare_linear":  # uniform keep probability: an (almost) unbiased estimate of task arithmetic
        expected = spec["base"] + sum(m - spec["base"] for m in spec["models"])
        noise = self_ / 2**0.5
        assert float((theirs.mean(0) - expected).norm()) < 1.25 * noise
        assert float((ours_a - expected).norm()) < 1.25 * noise
