"""Streamed methods over many row blocks give the whole-tensor result: exact for the deterministic ones, the
same whole-tensor statistics (kept fraction, L1 rescaling, rank-dependent rates) for the random ones."""

from __future__ import annotations

import pytest
import torch

from modelfusion.engine.row_blocks import RowBlocks
from modelfusion.methods import get_method
from modelfusion.methods.rank_cut import RankWindow, find_cuts, order_keys


def _source(tensors, base, block_elements, seed=None):
    seed_of = None if seed is None else (lambda i: seed * 1000 + i)
    return RowBlocks.of_tensors(tensors, base, lambda t: t.float(), block_elements, seed_of=seed_of)


def _params(method, params, models):
    return {p.name: params.get(p.name, [p.default] * models if p.per_model else p.default) for p in method.params}


def _streamed(name, tensors, base, params, block_elements, seed=None):
    method = get_method(name)
    full = _params(method, params, len(tensors))
    source = _source(tensors, base, block_elements, seed)
    assert source.count > 1
    return torch.cat(list(method.stream(source, full)))


def _whole(name, tensors, base, params, generator=None):
    method = get_method(name)
    full = _params(method, params, len(tensors))
    return method([t.float() for t in tensors], full, base=base.float(), generator=generator)


def _quantized(shape, seed):
    """Values on a coarse grid: most magnitudes are tied with many others."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g) * 4).round() / 64


def _reference_window(values: torch.Tensor, window: RankWindow) -> torch.Tensor:
    """The window by a stable full sort (independent of the selection code)."""
    flat = values.flatten()
    order = torch.sort(-flat if window.descending else flat, stable=True).indices
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    mask[order[window.low : window.high]] = True
    return mask.view(values.shape)


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize(("low", "high"), [(0, 37), (0, 1), (5, 400), (299, 300), (123, 600), (0, 600), (10, 10)])
def test_cuts_over_blocks_equal_a_stable_sort(descending, low, high):
    magnitude = _quantized((40, 15), 0).abs()  # 600 entries, about 10 distinct values
    window = RankWindow(low, high, descending)
    source = _source([magnitude], None, 45)  # 14 blocks of 3 rows
    assert source.count == 14
    cuts = find_cuts(source, lambda b: [order_keys(b.tensors[0], descending)], [window], magnitude.numel())[0]
    mask = torch.cat([cuts.mask(order_keys(source.block(i).tensors[0], descending), i) for i in range(source.count)])
    assert torch.equal(mask, _reference_window(magnitude, window))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ties", {"weight": [0.6, 0.4], "density": [0.3, 0.55]}),
        ("ties", {"weight": [1.0, 1.0], "density": [0.5, 0.5], "rescale": True}),
        ("breadcrumbs_ties", {"weight": [1.0, 0.5], "density": [0.6, 0.4], "gamma": [0.05, 0.1]}),
        ("breadcrumbs", {"weight": [1.0, 0.5], "density": [0.6, 0.4], "gamma": [0.05, 0.1]}),
        ("task_arithmetic", {"weight": [0.7, 0.2]}),
    ],
)
def test_deterministic_methods_over_blocks_equal_whole_tensor(name, params):
    base = _quantized((64, 24), 1)
    models = [base + _quantized((64, 24), 2) / 8, base + _quantized((64, 24), 3) / 8]
    streamed = _streamed(name, models, base, params, 100)
    whole = _whole(name, models, base, params)
    if params.get("rescale"):  # L1 sums add up in another order: float64 rounding at most
        torch.testing.assert_close(streamed, whole, rtol=1e-6, atol=1e-7)
    else:
        assert torch.equal(streamed, whole)


@pytest.mark.parametrize("name", ["dare_linear", "della_linear"])
def test_random_masks_rescale_over_the_whole_tensor(name):
    g = torch.Generator().manual_seed(4)
    base = torch.randn(200, 64, generator=g)
    delta = torch.randn(200, 64, generator=g)
    params = {"weight": [1.0], "density": [0.3], "rescale": True}
    out = _streamed(name, [base + delta], base, params, 640, seed=7)  # 20 blocks of 10 rows
    kept = (out - base) != 0
    assert abs(float(kept.float().mean()) - 0.3) < 0.02
    # one factor for the whole tensor: ||delta||_1 / ||kept||_1, not one per block
    factor = float(delta.abs().sum()) / float(delta[kept].abs().sum())
    torch.testing.assert_close((out - base)[kept], delta[kept] * factor, rtol=1e-5, atol=1e-6)


def test_della_rates_follow_row_ranks_in_every_block():
    row = torch.arange(1.0, 12.0)
    base = torch.zeros(4000, 11)
    params = {"weight": [1.0], "density": [0.5], "epsilon": [0.3], "rescale": False}
    out = _streamed("della_linear", [row.repeat(4000, 1)], base, params, 1100, seed=2)  # 40 blocks
    freq = (out != 0).float().mean(0)
    torch.testing.assert_close(freq, torch.linspace(0.2, 0.8, 11), atol=0.03, rtol=0)


def test_random_blocks_are_reproducible_and_differ_between_blocks():
    g = torch.Generator().manual_seed(5)
    base, ft = torch.randn(80, 50, generator=g), torch.randn(80, 50, generator=g)
    params = {"weight": [1.0], "density": [0.5]}
    a = _streamed("dare_ties", [ft], base, params, 500, seed=1)
    b = _streamed("dare_ties", [ft], base, params, 500, seed=1)
    assert torch.equal(a, b)
    kept = (a - base) != 0
    assert not torch.equal(kept[:10], kept[10:20])  # blocks have their own draws


def test_one_large_block_uses_the_histogram_and_equals_a_stable_sort():
    magnitude = _quantized((300, 300), 6).abs()  # 90,000 entries: above the direct-selection size
    for window in (RankWindow(0, 31_000, True), RankWindow(12_345, 80_000, False)):
        source = _source([magnitude], None, 1 << 20)
        assert source.count == 1
        keys = order_keys(magnitude, window.descending)
        cuts = find_cuts(source, lambda b, w=window: [order_keys(b.tensors[0], w.descending)], [window], 90_000)
        assert torch.equal(cuts[0].mask(keys, 0), _reference_window(magnitude, window))


def test_slerp_over_blocks_matches_the_whole_tensor_formula():
    g = torch.Generator().manual_seed(8)
    a, b = torch.randn(120, 40, generator=g), torch.randn(120, 40, generator=g)
    out = _streamed("slerp", [b], a, {"t": 0.3}, 400)  # 12 blocks
    a64, b64 = a.double(), b.double()
    omega = torch.arccos((a64 / a64.norm() * b64 / b64.norm()).sum())
    expected = (torch.sin(0.7 * omega) * a64 + torch.sin(0.3 * omega) * b64) / torch.sin(omega)
    torch.testing.assert_close(out.double(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_all_equal_magnitudes_and_float64_keys_over_blocks(dtype):
    """Unchanged tensors (every delta 0) put all entries in one bin: ties are admitted in index order; float64
    keys resolve their bin by gathering its entries instead of a second histogram."""
    for magnitude in (torch.zeros(30, 20, dtype=dtype), _quantized((30, 20), 9).abs().to(dtype)):
        for window in (RankWindow(0, 123, True), RankWindow(77, 500, False)):
            source = _source([magnitude], None, 60)  # 10 blocks of 3 rows
            cuts = find_cuts(
                source, lambda b, w=window: [order_keys(b.tensors[0].to(dtype), w.descending)], [window], 600
            )
            keys = [order_keys(source.block(i).tensors[0].to(dtype), window.descending) for i in range(source.count)]
            mask = torch.cat([cuts[0].mask(k, i) for i, k in enumerate(keys)])
            assert torch.equal(mask, _reference_window(magnitude, window))
