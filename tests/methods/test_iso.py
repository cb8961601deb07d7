"""Iso-C and Iso-CTS against a few lines of torch following Marczak et al. 2025 (arXiv:2502.04959)."""

import pytest
import torch
from safetensors.torch import load_file, save_file

import modelfusion
from modelfusion.methods import get_method
from modelfusion.methods.iso import subspace_sizes

ISO_C, ISO_CTS = get_method("iso_c"), get_method("iso_cts")


def _polar(x: torch.Tensor) -> torch.Tensor:
    """x (x^T x)^(-1/2) (x with independent columns), or its transpose-wise twin for a wide x."""
    if x.shape[0] < x.shape[1]:
        return _polar(x.T).T
    evals, evecs = torch.linalg.eigh(x.T @ x)
    return x @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T


def reference_iso_c(base, fts, alpha):
    """sum of task matrices; its polar factor times the mean singular value (trace of (D^T D)^(1/2) / r)."""
    total = sum(f - base for f in fts)
    small = total.T @ total if total.shape[0] >= total.shape[1] else total @ total.T
    sigma_mean = torch.linalg.eigvalsh(small).clamp_min(0).sqrt().mean()
    return base + alpha * sigma_mean * _polar(total)


def reference_iso_cts(base, fts, alpha, k, d):
    """Top-k common directions of the sum; each task's top-d directions outside them; orthonormalised union
    (task blocks first, then the common block); isotropic spectrum at the mean of every kept singular value."""
    deltas = [f - base for f in fts]
    u, s, vh = torch.linalg.svd(sum(deltas), full_matrices=False)
    u_c = u[:, :k]
    cols_u, cols_v, sigmas = [], [], []
    for delta in deltas:
        projector = torch.eye(delta.shape[0], dtype=delta.dtype) - u_c @ u_c.T
        ut, st, vht = torch.linalg.svd(projector @ delta, full_matrices=False)
        cols_u.append(ut[:, :d])
        cols_v.append(vht[:d].T)
        sigmas.append(st[:d])
    big_u = torch.cat([*cols_u, u_c], dim=1)
    big_v = torch.cat([*cols_v, vh[:k].T], dim=1)
    sigma = torch.cat([*sigmas, s[:k]]).mean()
    return base + alpha * sigma * _polar(big_u) @ _polar(big_v).T


def _models(shape, count, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=g, dtype=torch.float64)
    return base, [base + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(count)]


@pytest.mark.parametrize("shape", [(10, 7), (6, 11)])
def test_iso_c_matrix(shape):
    base, fts = _models(shape, 3, seed=shape[0])
    out = ISO_C(fts, {"alpha": 1.3}, base=base)
    torch.testing.assert_close(out, reference_iso_c(base, fts, 1.3), rtol=1e-9, atol=1e-9)


def test_iso_c_spectrum_is_flat():
    base, fts = _models((9, 9), 2, seed=7)
    s = torch.linalg.svdvals(ISO_C(fts, {"alpha": 1.0}, base=base) - base)
    expected = torch.linalg.svdvals(sum(f - base for f in fts)).mean()
    torch.testing.assert_close(s, torch.full_like(s, float(expected)))


def test_subspace_sizes():
    assert subspace_sizes(10, 3, 0.8) == (7, 1)  # int(8) common, round(2/3) = 1 per task, k = 10 - 3
    assert subspace_sizes(48, 4, 0.8) == (40, 2)
    assert subspace_sizes(7, 2, 0.0) == (1, 3)  # round(3.5) = 4 would need 8 > 7 directions: capped
    assert subspace_sizes(12, 3, 1.0) == (12, 0)


@pytest.mark.parametrize(("shape", "fraction"), [((16, 12), 0.8), ((10, 14), 0.5), ((12, 12), 0.0)])
def test_iso_cts_matrix(shape, fraction):
    base, fts = _models(shape, 3, seed=int(fraction * 10))
    k, d = subspace_sizes(min(shape), 3, fraction)
    out = ISO_CTS(fts, {"alpha": 0.9, "common_space_fraction": fraction}, base=base)
    torch.testing.assert_close(out, reference_iso_cts(base, fts, 0.9, k, d), rtol=1e-8, atol=1e-8)


def test_iso_cts_with_the_whole_common_space_is_iso_c():
    base, fts = _models((8, 6), 3, seed=11)
    out = ISO_CTS(fts, {"alpha": 1.0, "common_space_fraction": 1.0}, base=base)
    torch.testing.assert_close(out, reference_iso_c(base, fts, 1.0), rtol=1e-9, atol=1e-9)


def test_other_tensors_take_the_mean_task_vector():
    base, fts = _models((5,), 2, seed=12)
    expected = base + 1.5 * sum(f - base for f in fts) / 2
    torch.testing.assert_close(ISO_C(fts, {"alpha": 1.5}, base=base), expected)
    torch.testing.assert_close(ISO_CTS(fts, {"alpha": 1.5, "common_space_fraction": 0.8}, base=base), expected)


def test_recipe_merge_iso_cts(tmp_path):
    g = torch.Generator().manual_seed(13)
    base = {"proj.weight": torch.randn(10, 10, generator=g), "norm.weight": torch.ones(10)}
    fts = [{n: t + 0.1 * torch.randn(t.shape, generator=g) for n, t in base.items()} for _ in range(2)]
    for name, tensors in [("base", base), ("a", fts[0]), ("b", fts[1])]:
        (tmp_path / name).mkdir()
        save_file(tensors, str(tmp_path / name / "model.safetensors"))
    recipe = {
        "merge_method": "iso_cts",
        "base_model": str(tmp_path / "base"),
        "models": [{"model": str(tmp_path / "a")}, {"model": str(tmp_path / "b")}],
        "dtype": "float32",
    }
    modelfusion.merge(recipe, tmp_path / "out")  # defaults: alpha 1.0, common_space_fraction 0.8 -> k 8, d 1
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    w = [f["proj.weight"].double() for f in fts]
    expected = reference_iso_cts(base["proj.weight"].double(), w, 1.0, 8, 1)
    torch.testing.assert_close(out["proj.weight"].double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["norm.weight"], base["norm.weight"] + sum(f["norm.weight"] - 1 for f in fts) / 2)
