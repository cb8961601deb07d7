import torch

from modelfusion.methods.row_order import stable_row_order


def test_equals_torch_stable_argsort_with_many_ties():
    g = torch.Generator().manual_seed(0)
    keys = torch.randint(0, 7, (50, 333), generator=g, dtype=torch.int32)
    assert torch.equal(stable_row_order(keys), keys.argsort(dim=-1, stable=True))


def test_full_int32_range_and_float_bits():
    g = torch.Generator().manual_seed(1)
    keys = torch.randint(-(1 << 31), (1 << 31) - 1, (20, 101), generator=g, dtype=torch.int32)
    keys[:, :10] = keys[:, 10:20]  # some equal keys
    assert torch.equal(stable_row_order(keys), keys.argsort(dim=-1, stable=True))
    magnitudes = torch.randn(8, 64, generator=g).abs().view(torch.int32)
    assert torch.equal(stable_row_order(magnitudes), magnitudes.argsort(dim=-1, stable=True))


def test_other_dtypes_and_empty_rows_fall_back():
    keys = torch.tensor([[3, 1, 2, 1]], dtype=torch.int64)
    assert stable_row_order(keys).tolist() == [[1, 3, 2, 0]]
    assert stable_row_order(torch.empty(0, 5, dtype=torch.int32)).shape == (0, 5)


def test_input_is_not_modified():
    keys = torch.tensor([[5, 4, 3]], dtype=torch.int32)
    stable_row_order(keys)
    assert keys.tolist() == [[5, 4, 3]]
