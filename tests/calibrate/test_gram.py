"""Gram matrices from calibrate equal X^T X / N of each linear layer's inputs, computed here by hand."""

import torch
from safetensors.torch import load_file
from torch import nn

from modelfusion.calibrate import calibrate


class TinyLM(nn.Module):
    """Embedding -> up (Linear) -> relu -> head (Linear); keyword inputs like a transformers model."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(11, 6)
        self.up = nn.Linear(6, 8)
        self.head = nn.Linear(8, 11, bias=False)

    def forward(self, input_ids, attention_mask=None):
        return self.head(torch.relu(self.up(self.embed(input_ids))))


def _batches():
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(3):
        ids = torch.randint(0, 11, (2, 5), generator=g)
        mask = torch.ones(2, 5, dtype=torch.long)
        mask[1, 3:] = 0  # padding
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


def _expected(model: TinyLM, batches) -> dict[str, torch.Tensor]:
    """Inputs of `up` and `head` on the real tokens, by hand; mean of x x^T over those tokens."""
    with torch.no_grad():
        x_up = torch.cat([model.embed(b["input_ids"])[b["attention_mask"] == 1] for b in batches])
        x_head = torch.relu(model.up(x_up))
    return {"gram:up.weight": x_up.T @ x_up / len(x_up), "gram:head.weight": x_head.T @ x_head / len(x_head)}


def test_gram_is_the_mean_outer_product_of_real_tokens(tmp_path):
    model, batches = TinyLM(), _batches()
    result = calibrate(model, batches, tmp_path / "s.safetensors", stats=["gram"])
    got = load_file(str(result.path))
    expected = _expected(model, batches)
    assert set(got) == set(expected) and not result.cached
    for name, g in expected.items():
        torch.testing.assert_close(got[name], g, rtol=1e-5, atol=1e-6)


def test_a_small_memory_budget_takes_one_pass_per_layer_with_the_same_values(tmp_path):
    model, batches = TinyLM(), _batches()
    passes = []
    result = calibrate(
        model,
        batches,
        tmp_path / "s.safetensors",
        stats=["gram"],
        max_gram_bytes=1,
        progress=lambda done, total: passes.append(total),
    )
    assert passes[-1] == 2 * len(batches)  # two layers, one pass each
    got, expected = load_file(str(result.path)), _expected(model, batches)
    for name, g in expected.items():
        torch.testing.assert_close(got[name], g, rtol=1e-5, atol=1e-6)


def test_cache_key_model_and_data(tmp_path):
    model, batches = TinyLM(), _batches()
    out = tmp_path / "s.safetensors"
    first = calibrate(model, batches, out)
    mtime = out.stat().st_mtime_ns
    again = calibrate(model, batches, out)
    assert again.cached and again.key == first.key and out.stat().st_mtime_ns == mtime
    changed = calibrate(model, batches[:2], out)
    assert not changed.cached and changed.key != first.key
    other_model = calibrate(TinyLM(seed=1), batches[:2], out)
    assert not other_model.cached and other_model.key != changed.key
