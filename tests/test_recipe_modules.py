"""`modules:` (mergekit's per-module definitions) on a tiny LLaVA: tensors assigned to modules by name, each
module planned with its own form, slices, parameters and (modelfusion only) method. Parity with mergekit on a
`modules:` recipe: tests/parity/upstream_arch.py (`modules_t5`)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from modelfusion import merge
from modelfusion.errors import PlanError, RecipeError, RecipeWarning
from modelfusion.plan.modules import ModuleMap
from modelfusion.recipe.load import parse_recipe


@pytest.fixture(scope="module")
def llavas(tmp_path_factory):
    from tests.parity.arch_models import _llava

    root = tmp_path_factory.mktemp("llava")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        _llava().save_pretrained(root / f"m{seed}", safe_serialization=True)
        paths.append(str(root / f"m{seed}"))
    return paths


def _weights(folder) -> dict[str, torch.Tensor]:
    return load_file(f"{folder}/model.safetensors")


def test_module_names_claim_tensors_by_component_aliases_and_leftovers():
    vlm = ModuleMap(["text_decoder", "vision_tower", "multi_modal_projector"])
    assert vlm("language_model.model.layers.0.mlp.up_proj.weight") == "text_decoder"
    assert vlm("model.vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight") == "vision_tower"
    assert vlm("multi_modal_projector.linear_1.weight") == "multi_modal_projector"
    assert vlm("visual.merger.mlp.0.weight") == "multi_modal_projector"  # Qwen2-VL: longest match wins
    assert vlm("visual.blocks.0.attn.qkv.weight") == "vision_tower"
    assert vlm("lm_head.weight") == "text_decoder"  # text_decoder takes what no other module claims
    t5 = ModuleMap(["encoder", "decoder", "shared"])
    assert [t5(n) for n in ("encoder.block.0.layer.0.SelfAttention.q.weight", "shared.weight", "lm_head.weight")] == [
        "encoder",
        "shared",
        "shared",
    ]
    only = ModuleMap(["vision_tower"])
    assert only("language_model.model.norm.weight") is None
    assert ModuleMap(["vision_tower", "default"])("language_model.model.norm.weight") == "default"


def test_each_module_merged_with_its_own_slices_parameters_and_method(llavas, tmp_path):
    a, b = llavas
    recipe = {
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        "modules": {
            "text_decoder": {  # a frankenmerge of the text tower only: 2 + 1 layers
                "slices": [
                    {"sources": [{"model": a, "layer_range": [0, 2]}]},
                    {"sources": [{"model": b, "layer_range": [1, 2]}]},
                ]
            },
            "vision_tower": {
                "parameters": {"weight": 0.25},  # module level: under the model's own, over the recipe's
                "models": [{"model": a}, {"model": b, "parameters": {"weight": 0.75}}],
            },
            "multi_modal_projector": {"merge_method": "passthrough", "models": [{"model": b}]},
        },
    }
    with pytest.warns(RecipeWarning, match="method 'passthrough' does not use parameter 'weight'"):
        merge(recipe, tmp_path / "out", threads=1)  # the recipe's weight, in the projector's passthrough
    out, wa, wb = _weights(tmp_path / "out"), _weights(a), _weights(b)
    fc1 = "vision_tower.encoder.layers.1.mlp.fc1.weight"
    torch.testing.assert_close(out[fc1], 0.25 * wa[fc1] + 0.75 * wb[fc1])
    up = "language_model.model.layers.{}.mlp.up_proj.weight"
    assert torch.equal(out[up.format(2)], wb[up.format(1)]) and torch.equal(out[up.format(0)], wa[up.format(0)])
    assert torch.equal(out["language_model.lm_head.weight"], wb["language_model.lm_head.weight"])  # last slice
    assert torch.equal(out["multi_modal_projector.linear_1.weight"], wb["multi_modal_projector.linear_1.weight"])
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["text_config"]["num_hidden_layers"], config["vision_config"]["num_hidden_layers"]) == (3, 2)
    import transformers

    model = transformers.LlavaForConditionalGeneration.from_pretrained(tmp_path / "out")
    assert len(model.model.language_model.layers) == 3


def test_unknown_module_and_tensors_in_no_module_are_plan_errors(llavas, tmp_path):
    recipe = {"merge_method": "linear", "modules": {"vision_tower": {"models": [{"model": llavas[0]}]}}}
    recipe["modules"]["audio_tower"] = {"models": [{"model": llavas[0]}]}
    with pytest.raises(PlanError) as e:
        merge(recipe, tmp_path / "out")
    assert "belong to no module (e.g. 'language_model." in str(e.value)
    assert "modules.audio_tower: no tensor of" in str(e.value) and "language_model.model.layers" in str(e.value)


@pytest.mark.parametrize(
    "modules, message",
    [
        ({}, "'modules' is empty"),
        ({"default": {"parameters": {"weight": 1}}}, "modules.default: give exactly one of 'models' and 'slices'"),
    ],
)
def test_malformed_modules_are_recipe_errors(modules, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe({"merge_method": "linear", "modules": modules})


def test_modules_with_models_is_a_recipe_error():
    with pytest.raises(RecipeError, match="exactly one of 'models' and 'slices' \\(or 'modules'\\)"):
        models = [{"model": "a"}]
        parse_recipe({"merge_method": "linear", "models": models, "modules": {"x": {"models": models}}})
