"""Parameter settings: scalar, gradient (piecewise linear over evenly spaced points), filter list."""

from __future__ import annotations

import pytest

from modelfusion.recipe.schema import FilterEntry
from modelfusion.recipe.settings import evaluate_setting, interpolate_gradient


@pytest.mark.parametrize(
    ("points", "t", "expected"),
    [
        ([0.7], 0.3, 0.7),
        ([0.0, 1.0], 0.0, 0.0),
        ([0.0, 1.0], 1.0, 1.0),
        ([0.0, 1.0], 0.25, 0.25),
        ([2.0, 4.0, 0.0], 0.25, 3.0),  # halfway along the first of two pieces
        ([2.0, 4.0, 0.0], 0.5, 4.0),
        ([2.0, 4.0, 0.0], 0.75, 2.0),
        # 5 points at t = 0, .25, .5, .75, 1; t = 2/3 is 2/3 of the way from 1.0 to 0.2
        ([0.0, 0.5, 1.0, 0.2, 0.7], 2 / 3, 1.0 + (0.2 - 1.0) * (2 / 3 * 4 - 2)),
        ([0.0, 1.0], -1.0, 0.0),  # clamped
        ([0.0, 1.0], 2.0, 1.0),
    ],
)
def test_gradient_is_piecewise_linear(points, t, expected):
    assert interpolate_gradient(points, t) == pytest.approx(expected, abs=1e-12)


def _filters(*entries: tuple[str | None, object]) -> list[FilterEntry]:
    return [FilterEntry(filter=f, value=v) for f, v in entries]


def test_filter_list_first_match_wins_in_list_order():
    setting = _filters(("self_attn", 0.3), ("q_proj", 0.4), (None, 0.9))
    assert evaluate_setting(setting, "model.layers.0.self_attn.q_proj.weight", 0.0) == 0.3
    assert evaluate_setting(setting, "model.layers.0.mlp.up_proj.weight", 0.0) == 0.9


def test_unfiltered_entry_is_a_catch_all_where_it_stands():
    # mergekit 0.1.5 (measured): [{value: 0.9}, {filter: mlp, value: 0.1}] gives 0.9 to mlp tensors too
    setting = _filters((None, 0.9), ("mlp", 0.1))
    assert evaluate_setting(setting, "model.layers.1.mlp.up_proj.weight", 0.0) == 0.9


def test_filter_is_a_substring_match():
    setting = _filters(("attn.q", 1.0))
    assert evaluate_setting(setting, "transformer.h.0.attn.q.weight", 0.0) == 1.0
    assert evaluate_setting(setting, "transformer.h.0.attn.k.weight", 0.0) is None  # next level decides


def test_filter_entry_holding_a_gradient_is_evaluated_at_t():
    setting = _filters(("mlp", [0.0, 1.0]), (None, 0.5))
    assert evaluate_setting(setting, "model.layers.2.mlp.gate_proj.weight", 0.75) == pytest.approx(0.75)
    assert evaluate_setting(setting, "model.layers.2.input_layernorm.weight", 0.75) == 0.5


def test_scalar_passes_through():
    assert evaluate_setting(True, "x", 0.3) is True
    assert evaluate_setting(0.25, "x", 0.9) == 0.25
