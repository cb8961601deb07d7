"""Planning: per-tensor parameters (gradients, filters, precedence) and every metadata problem reported at once.

In-memory checkpoints with Llama-style names: fast, and no tensor data is needed to plan.
Expected values follow mergekit 0.1.5 as measured with its `mergekit-yaml` (see docs/recipes.md).
"""

from __future__ import annotations

import pytest
import torch

from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import PlanError
from modelfusion.plan import COPY, build_plan
from modelfusion.recipe import parse_recipe

LAYERS = 4
PER_LAYER = ("self_attn.q_proj.weight", "mlp.up_proj.weight", "input_layernorm.weight")


def llama_like(seed: int = 0, layers: int = LAYERS, drop: str | None = None, reshape: str | None = None) -> dict:
    g = torch.Generator().manual_seed(seed)
    names = ["model.embed_tokens.weight"]
    names += [f"model.layers.{i}.{p}" for i in range(layers) for p in PER_LAYER]
    names += ["model.norm.weight", "lm_head.weight"]
    sd = {n: torch.randn(3, 2, generator=g) for n in names if n != drop}
    if reshape:
        sd[reshape] = torch.randn(2, 3, generator=g)
    return sd


def plan(recipe: dict, **models: dict):
    ckpts = {name: open_checkpoint(sd, label=name) for name, sd in models.items()}
    return build_plan(parse_recipe(recipe), ckpts)


def params_by_tensor(p, key: str) -> dict[str, object]:
    return {j.out.name: j.params[key] for j in p.jobs}


def expected_gradient(points: list[float], t: float) -> float:
    """Independent piecewise-linear interpolation (numpy-free re-derivation)."""
    if len(points) == 1:
        return points[0]
    pos = t * (len(points) - 1)
    lo = min(int(pos), len(points) - 2)
    return points[lo] + (points[lo + 1] - points[lo]) * (pos - lo)


def test_models_form_gradient_uses_layer_over_last_layer_and_t0_outside_layers():
    points = [0.0, 0.5, 1.0, 0.2, 0.7]
    p = plan(
        {
            "merge_method": "linear",
            "models": [{"model": "a", "parameters": {"weight": points}}, {"model": "b", "parameters": {"weight": 0.0}}],
        },
        a=llama_like(0),
        b=llama_like(1),
    )
    w = params_by_tensor(p, "weight")
    for i in range(LAYERS):
        for part in PER_LAYER:
            assert w[f"model.layers.{i}.{part}"][0] == pytest.approx(expected_gradient(points, i / (LAYERS - 1)))
            assert w[f"model.layers.{i}.{part}"][1] == 0.0
    for outside in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
        assert w[outside] == [0.0, 0.0]  # t = 0 for every tensor outside the layer stack, before or after


def test_slices_gradient_is_relative_to_each_slice_and_one_layer_slice_gets_t1():
    def src(model, lo, hi, **params):
        return {"model": model, "layer_range": [lo, hi], **({"parameters": params} if params else {})}

    p = plan(
        {
            "merge_method": "linear",
            "slices": [
                {"sources": [src("a", 0, 1), src("b", 0, 1, weight=0.0)], "parameters": {"weight": [0.2, 0.4]}},
                {"sources": [src("a", 1, 4), src("b", 1, 4, weight=0.0)], "parameters": {"weight": [0.6, 0.8]}},
            ],
            "parameters": {"weight": 0.123, "normalize": False},
        },
        a=llama_like(0),
        b=llama_like(1),
    )
    w = {n: v[0] for n, v in params_by_tensor(p, "weight").items()}
    assert w["model.layers.0.mlp.up_proj.weight"] == pytest.approx(0.4)  # one-layer slice: last point
    assert [w[f"model.layers.{i}.mlp.up_proj.weight"] for i in (1, 2, 3)] == pytest.approx([0.6, 0.7, 0.8])
    assert w["model.embed_tokens.weight"] == pytest.approx(0.2)  # first slice's parameters, t = 0
    assert w["model.norm.weight"] == pytest.approx(0.6)  # last slice's parameters, t = 0
    assert w["lm_head.weight"] == pytest.approx(0.6)
    assert 0.123 not in w.values()  # slice parameters take precedence over the top level


def test_precedence_model_then_top_level_and_filters_fall_through():
    p = plan(
        {
            "merge_method": "linear",
            "models": [
                {"model": "a", "parameters": {"weight": [{"filter": "up_proj", "value": 0.55}]}},
                {"model": "b", "parameters": {"weight": 0.3}},
            ],
            "parameters": {
                "normalize": False,
                "weight": [
                    {"filter": "self_attn", "value": 0.3},
                    {"filter": "q_proj", "value": 0.4},
                    {"filter": "mlp", "value": [0.0, 1.0]},
                    {"value": 0.9},
                ],
            },
        },
        a=llama_like(0),
        b=llama_like(1),
    )
    w = params_by_tensor(p, "weight")
    norm = params_by_tensor(p, "normalize")
    for i in range(LAYERS):
        assert w[f"model.layers.{i}.mlp.up_proj.weight"] == [0.55, 0.3]  # model level wins (b: scalar)
        assert w[f"model.layers.{i}.self_attn.q_proj.weight"][0] == 0.3  # first matching filter, in list order
        assert w[f"model.layers.{i}.input_layernorm.weight"][0] == 0.9  # unfiltered default
        assert norm[f"model.layers.{i}.input_layernorm.weight"] is False
    assert w["lm_head.weight"][0] == 0.9


def test_linear_takes_an_unlisted_base_model_as_input_in_models_form_only():
    sds = {"a": llama_like(0), "base": llama_like(2)}
    models_form = plan({"merge_method": "linear", "base_model": "base", "models": [{"model": "a"}]}, **sds)
    job = next(j for j in models_form.jobs if j.out.name == "model.norm.weight")
    assert [r.model for r in job.inputs] == ["a", "base"]
    slices_form = plan(
        {
            "merge_method": "linear",
            "base_model": "base",
            "slices": [{"sources": [{"model": "a", "layer_range": [0, 4]}]}],
        },
        **sds,
    )
    job = next(j for j in slices_form.jobs if j.out.name == "model.norm.weight")
    assert [r.model for r in job.inputs] == ["a"]


def test_slerp_gets_base_apart_and_t_per_layer():
    p = plan(
        {
            "merge_method": "slerp",
            "base_model": "a",
            "models": [{"model": "a"}, {"model": "b"}],
            "parameters": {"t": [{"filter": "self_attn", "value": [0.0, 1.0]}, {"value": 0.5}]},
        },
        a=llama_like(0),
        b=llama_like(1),
    )
    jobs = {j.out.name: j for j in p.jobs}
    q3 = jobs["model.layers.3.self_attn.q_proj.weight"]
    assert q3.base.model == "a" and [r.model for r in q3.inputs] == ["b"] and q3.params["t"] == 1.0
    assert jobs["model.layers.1.self_attn.q_proj.weight"].params["t"] == pytest.approx(1 / 3)
    assert jobs["model.layers.1.mlp.up_proj.weight"].params["t"] == 0.5


def test_integer_tensors_are_copied_from_the_base():
    a, b = llama_like(0), llama_like(1)
    a["model.position_ids"] = torch.arange(4)
    b["model.position_ids"] = torch.arange(4) + 7
    p = plan({"merge_method": "linear", "base_model": "b", "models": [{"model": "a"}, {"model": "b"}]}, a=a, b=b)
    job = next(j for j in p.jobs if j.out.name == "model.position_ids")
    assert job.method == COPY and job.inputs[0].model == "b" and job.out.dtype == torch.int64


def test_every_metadata_problem_is_reported_in_one_error():
    with pytest.raises(PlanError) as exc:
        plan(
            {
                "merge_method": "slerp",
                "base_model": "a",
                "models": [{"model": "a"}, {"model": "b", "parameters": {"wieght": 1.0}}, {"model": "c"}],
                "parameters": {"t": 1.5},
            },
            a=llama_like(0),
            b=llama_like(1, drop="model.layers.2.mlp.up_proj.weight"),
            c=llama_like(2, reshape="model.norm.weight"),
        )
    problems = exc.value.problems
    text = "\n".join(problems)
    assert "has no parameter 'wieght' (did you mean 'weight'?)" not in text  # slerp has no 'weight' at all
    assert "method 'slerp' has no parameter 'wieght'" in text
    assert "takes exactly 1 model(s) besides base_model, got 2" in text
    assert "model b has no tensor 'model.layers.2.mlp.up_proj.weight'" in text
    assert "tensor 'model.norm.weight': shape [2, 3] in c but [3, 2]" in text
    assert "'t' = 1.5 is above its maximum 1.0" in text
    assert len(problems) >= 5
    assert str(exc.value).startswith(f"{len(problems)} problems found before reading any tensor")


def test_unknown_method_and_dtype_reported_with_tensor_problems():
    with pytest.raises(PlanError) as exc:
        plan(
            {"merge_method": "lineer", "dtype": "float8", "models": [{"model": "a"}, {"model": "b"}]},
            a=llama_like(0),
            b=llama_like(1, drop="lm_head.weight"),
        )
    text = "\n".join(exc.value.problems)
    assert "unknown merge method 'lineer' (did you mean 'linear'?)" in text
    assert "unknown dtype 'float8'" in text
    assert "model b has no tensor 'lm_head.weight'" in text


def test_one_problem_is_one_line():
    with pytest.raises(PlanError) as exc:
        plan({"merge_method": "linear", "models": [{"model": "a", "parameters": {"weigth": 2}}]}, a=llama_like(0))
    assert "\n" not in str(exc.value)
    assert "did you mean 'weight'?" in str(exc.value)


def test_layer_range_past_the_model_is_a_problem():
    with pytest.raises(PlanError, match=r"layer_range \[0, 6\] of a goes past its 4 layers"):
        plan(
            {"merge_method": "passthrough", "slices": [{"sources": [{"model": "a", "layer_range": [0, 6]}]}]},
            a=llama_like(0),
        )
