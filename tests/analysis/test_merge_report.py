"""`merge --report`: per-tensor merge statistics by hand, and the report written into the merged folder."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.analysis.merge_stats import merge_tensor_stats
from modelfusion.api import merge
from tests.analysis.fake_models import three_models

BASE = torch.ones(6)
TAU1 = torch.tensor([3.0, -1.0, 2.0, 0.0, 1.0, -2.0])
TAU2 = torch.tensor([1.5, 1.0, -4.0, 2.0, 0.0, -0.5])


def test_average_of_task_vectors():
    delta = (TAU1 + TAU2) / 2  # [2.25, 0, -1, 1, 0.5, -1.25]: signs [+, 0, -, +, +, -]
    s = merge_tensor_stats([BASE + TAU1, BASE + TAU2], BASE, BASE + delta, [0, 1], 2)
    assert s.effective_weights() == pytest.approx([0.5, 0.5], abs=1e-6)
    assert s.linear_fit == pytest.approx(1.0)
    assert s.changed_fraction == pytest.approx(5 / 6)  # position 1 cancels
    assert s.conflict_rate == pytest.approx(2 / 6)  # positions 1 and 2 have both signs
    # tau1 is non-zero at 5 positions and agrees with the output at 0, 4, 5; tau2 at 0, 2, 3, 5 of its 5
    assert (s.kept_fraction(0), s.kept_fraction(1)) == pytest.approx((3 / 5, 4 / 5))
    # agreeing |tau| mass: tau1 3 + 1 + 2 = 6, tau2 1.5 + 4 + 2 + 0.5 = 8
    assert s.agreement_share(0) == pytest.approx(6 / 14)


def test_sparse_disjoint_output():
    delta = torch.tensor([3.0, 0.0, -4.0, 2.0, 0.0, 0.0])
    s = merge_tensor_stats([BASE + TAU1, BASE + TAU2], BASE, BASE + delta, [0, 1], 2)
    assert s.changed_fraction == pytest.approx(3 / 6)
    assert (s.kept_fraction(0), s.kept_fraction(1)) == pytest.approx((1 / 5, 3 / 5))
    assert s.agreement_share(1) == pytest.approx(7.5 / 10.5)
    assert s.linear_fit < 1.0


def test_without_base_weights_come_from_the_weights_themselves():
    x1, x2 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, -1.0])
    s = merge_tensor_stats([x1, x2], None, 0.7 * x1 + 0.3 * x2, [0, 1], 2)
    assert s.effective_weights() == pytest.approx([0.7, 0.3], abs=1e-6)
    assert s.changed_fraction != s.changed_fraction  # NaN: no base, no "changed"


def test_values_left_at_the_base_count_as_unchanged_after_rounding():
    base = torch.tensor([1.001, 2.003, -0.7])
    s = merge_tensor_stats([base.clone()], base, base.to(torch.bfloat16), [0], 1)
    assert s.changed == 0


def test_models_missing_from_a_job_get_zero_weight():
    s = merge_tensor_stats([BASE + TAU1], BASE, BASE + 0.5 * TAU1, [1], 3)
    assert s.effective_weights() == pytest.approx([0.0, 0.5, 0.0], abs=1e-6)


def _recipe(models, weights=(0.5, 1.0)):
    base, ft1, ft2 = models
    return {
        "merge_method": "task_arithmetic",
        "base_model": str(base),
        "models": [
            {"model": str(ft1), "parameters": {"weight": weights[0]}},
            {"model": str(ft2), "parameters": {"weight": weights[1]}},
        ],
    }


def test_merge_writes_the_report_into_the_output(tmp_path):
    models = three_models(tmp_path / "in")
    plain = merge(_recipe(models), tmp_path / "plain", threads=1)
    reported = merge(_recipe(models), tmp_path / "reported", threads=2, report=True)
    a = load_file(str(plain.out_dir / "model.safetensors"))
    b = load_file(str(reported.out_dir / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # observing changes nothing
    text = (tmp_path / "reported" / "merge_report.md").read_text()
    # whole model: the task vectors are independent overall, so least squares recovers the recipe's weights
    whole = next(line for line in text.splitlines() if line.startswith("| all merged tensors"))
    cells = [c.strip() for c in whole.strip("|").split("|")]
    assert cells[4:6] == ["0.500", "1.000"] and cells[6] == "100.0%"
    assert "| 0 |" in text and "| 1 |" in text and "| attention |" in text
    assert (tmp_path / "reported" / "merge_layers.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "plain" / "merge_report.md").exists()
