"""TSV-M against a few lines of torch following Gargiulo et al. 2025 (arXiv:2412.00081); a recipe run."""

import torch
from safetensors.torch import load_file, save_file

import modelfusion
from modelfusion.methods import JobSize, get_method

TSV = get_method("tsv")


def _inv_sqrt_polar(x: torch.Tensor) -> torch.Tensor:
    """x (x^T x)^(-1/2) for x with independent columns: the orthonormal basis nearest to x."""
    evals, evecs = torch.linalg.eigh(x.T @ x)
    return x @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T


def reference_tsv(base: torch.Tensor, fts: list[torch.Tensor], alpha: float) -> torch.Tensor:
    """Keep each task's top r/T singular triplets, orthonormalise the stacked U and V, reconstruct."""
    deltas = [f - base for f in fts]
    k = min(base.shape) // len(fts)
    svds = [torch.linalg.svd(d, full_matrices=False) for d in deltas]
    u = torch.cat([u[:, :k] for u, _, _ in svds], dim=1)  # [m, T k]
    v = torch.cat([vh[:k].T for _, _, vh in svds], dim=1)  # [n, T k]
    s = torch.cat([s[:k] for _, s, _ in svds])
    return base + alpha * _inv_sqrt_polar(u) @ torch.diag(s) @ _inv_sqrt_polar(v).T


def _models(shape, count, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(shape, generator=g, dtype=dtype)
    return base, [base + 0.1 * torch.randn(shape, generator=g, dtype=dtype) for _ in range(count)]


def test_matrix_equals_the_papers_construction():
    for shape, count, alpha in (((12, 9), 3, 1.0), ((8, 16), 4, 0.7)):
        base, fts = _models(shape, count, seed=count)
        out = TSV(fts, {"alpha": alpha}, base=base)
        torch.testing.assert_close(out, reference_tsv(base, fts, alpha), rtol=1e-9, atol=1e-9)


def test_float32_and_bfloat16_inputs_keep_their_dtype():
    base, fts = _models((12, 9), 3, seed=1)
    expected = reference_tsv(base, fts, 1.0)
    out32 = TSV([f.float() for f in fts], {"alpha": 1.0}, base=base.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), expected, rtol=1e-4, atol=1e-4)
    out16 = TSV([f.bfloat16() for f in fts], {"alpha": 1.0}, base=base.bfloat16())
    assert out16.dtype == torch.bfloat16


def test_orthogonal_tasks_add_their_truncations():
    """Tasks in orthogonal subspaces do not interfere: TSV-M is the sum of each task's rank-k truncation."""
    g = torch.Generator().manual_seed(2)
    q_left, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
    q_right, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
    base = torch.randn(10, 10, generator=g, dtype=torch.float64)
    sigmas = [torch.tensor([5.0, 4, 3, 2, 1], dtype=torch.float64), torch.tensor([6.0, 2, 1.5, 1, 0.5]).double()]
    deltas = [
        q_left[:, 5 * i : 5 * i + 5] @ torch.diag(s) @ q_right[:, 5 * i : 5 * i + 5].T for i, s in enumerate(sigmas)
    ]
    out = TSV([base + d for d in deltas], {"alpha": 1.0}, base=base)
    expected = base + sum(
        q_left[:, 5 * i : 5 * i + 5] @ torch.diag(s) @ q_right[:, 5 * i : 5 * i + 5].T for i, s in enumerate(sigmas)
    )
    torch.testing.assert_close(out, expected)  # k = 5: each task kept whole


def test_vectors_and_rank_below_task_count_take_the_mean_task_vector():
    base, fts = _models((7,), 3, seed=3)
    torch.testing.assert_close(TSV(fts, {"alpha": 0.5}, base=base), base + 0.5 * sum(f - base for f in fts) / 3)
    base, fts = _models((1, 6), 2, seed=4)  # r = 1 < T = 2: k = 0
    torch.testing.assert_close(TSV(fts, {"alpha": 1.0}, base=base), base + sum(f - base for f in fts) / 2)


def test_memory_model_counts_float32_work_and_every_model():
    job = JobSize(
        numel=1000, element_size=2, out_bytes=2000, stored_bytes=6000, models=2, has_base=True, block_elements=None
    )
    assert not TSV.can_stream
    assert TSV.memory(job) == 6000 // 3 + 3 * 1000 * 2 + (2 + 9) * 1000 * 4 + 2000


def test_recipe_merge(tmp_path):
    g = torch.Generator().manual_seed(5)
    base = {"layer.weight": torch.randn(12, 6, generator=g), "layer.bias": torch.randn(12, generator=g)}
    fts = [{n: t + 0.1 * torch.randn(t.shape, generator=g) for n, t in base.items()} for _ in range(3)]
    for name, tensors in [("base", base), *((f"ft{i}", ft) for i, ft in enumerate(fts))]:
        (tmp_path / name).mkdir()
        save_file(tensors, str(tmp_path / name / "model.safetensors"))
    recipe = {
        "merge_method": "tsv",
        "base_model": str(tmp_path / "base"),
        "models": [{"model": str(tmp_path / f"ft{i}")} for i in range(3)],
        "parameters": {"alpha": 0.8},
        "dtype": "float32",
    }
    modelfusion.merge(recipe, tmp_path / "out")
    out = load_file(str(tmp_path / "out" / "model.safetensors"))
    expected_w = reference_tsv(base["layer.weight"].double(), [f["layer.weight"].double() for f in fts], 0.8)
    torch.testing.assert_close(out["layer.weight"].double(), expected_w, rtol=1e-5, atol=1e-5)
    mean_bias = sum(f["layer.bias"] - base["layer.bias"] for f in fts) / 3
    torch.testing.assert_close(out["layer.bias"], base["layer.bias"] + 0.8 * mean_bias)
