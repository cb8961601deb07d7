"""`compare` on hand-made checkpoints: grouping by layer and module type, streaming, report files."""

from __future__ import annotations

import math

import pytest

from modelfusion.analysis.compare import compare_models
from modelfusion.analysis.compare_report import write_comparison
from modelfusion.checkpoint import Checkpoint
from modelfusion.errors import UserError
from tests.analysis.fake_models import save_model, three_models


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return three_models(tmp_path_factory.mktemp("cmp"))


def test_groups_by_layer_and_module_type(models):
    base, ft1, ft2 = models
    c = compare_models(base, [ft1, ft2], density=1.0)
    assert c.models == ["ft1", "ft2"]
    kinds = c.stats.by_kind()
    assert set(kinds) == {"embedding", "attention", "mlp"}
    assert kinds["attention"].cosine(0, 1) == pytest.approx(-3.5 / math.sqrt(19 * 23.5))
    assert kinds["mlp"].cosine(0, 1) == pytest.approx(1.0)
    assert kinds["embedding"].cosine(0, 1) == pytest.approx(0.0)
    layers = c.stats.by_layer()
    assert list(layers) == [0, 1]
    assert layers[1].norm(1) == pytest.approx(math.sqrt(8))
    # total: <tau1,tau2> = -3.5 + 4 + 0 = 0.5 ; |tau1|^2 = 19 + 2 + 1 = 22 ; |tau2|^2 = 23.5 + 8 + 1 = 32.5
    total = c.stats.total()
    assert total.cosine(0, 1) == pytest.approx(0.5 / math.sqrt(22 * 32.5))
    # conflicts: 2 in layer 0; none in layer 1; embeddings: positions 0 and 1 non-zero, one sign each -> none
    assert (total.conflicts, total.active) == (2, 6 + 2 + 2)
    assert c.skipped == [("model.layers.1.position_ids", "not a float tensor (torch.int64)")]


def test_streams_tensor_by_tensor(models, monkeypatch):
    """Every read of one tensor (base and models) happens before any read of the next: no whole model is loaded."""
    reads: list[str] = []
    original = Checkpoint.read

    def spy(self, name):
        reads.append(name)
        return original(self, name)

    monkeypatch.setattr(Checkpoint, "read", spy)
    base, ft1, ft2 = models
    compare_models(base, [ft1, ft2])
    names = [reads[i] for i in range(0, len(reads), 3)]
    assert reads == [n for n in names for _ in range(3)]
    assert len(set(names)) == len(names) == 3


def test_mismatched_shapes_are_left_out_with_a_reason(models, tmp_path):
    import torch

    base, ft1, _ = models
    odd = save_model(tmp_path / "odd", {"model.layers.1.mlp.up_proj.weight": torch.ones(5)})
    with pytest.raises(UserError, match="share no float tensor"):
        compare_models(base, [odd])
    partial = save_model(
        tmp_path / "partial",
        {"model.embed_tokens.weight": torch.ones(3, 1), "model.layers.1.mlp.up_proj.weight": torch.ones(5)},
    )
    c = compare_models(base, [ft1, partial])
    reasons = dict(c.skipped)
    assert reasons["model.layers.1.mlp.up_proj.weight"] == "shape [5] in partial but [2] in the base"
    assert reasons["model.layers.0.self_attn.q_proj.weight"] == "missing from partial"
    assert c.tensors == 1 and c.stats.kinds == ["embedding"]


def test_density_is_checked(models):
    base, ft1, _ = models
    with pytest.raises(UserError, match="density"):
        compare_models(base, [ft1], density=0.0)


def test_writes_markdown_html_and_plots(models, tmp_path):
    base, ft1, ft2 = models
    c = compare_models(base, [ft1, ft2], density=0.5)
    md = write_comparison(c, tmp_path / "md")
    text = md.read_text()
    assert "| attention |" in text and "cos ft1·ft2" in text
    for png in ("cosine_heatmap.png", "conflict_heatmap.png", "layers.png"):
        assert (tmp_path / "md" / png).read_bytes()[:4] == b"\x89PNG"
        assert f"]({png})" in text
    html = write_comparison(c, tmp_path / "html", "html", plots=False).read_text()
    assert html.startswith("<!doctype html>") and "<td>attention</td>" in html
    assert not list((tmp_path / "html").glob("*.png"))
