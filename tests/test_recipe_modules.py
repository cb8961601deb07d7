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


def _t5(root, seed):
    from tests.parity.arch_models import _t5

    torch.manual_seed(seed)
    _t5().save_pretrained(root, safe_serialization=True)
    return str(root)


def _whisper(root, seed):
    import transformers as tf

    config = tf.WhisperConfig(
        vocab_size=64, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=8, max_source_positions=16,
        max_target_positions=16, decoder_start_token_id=1, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    torch.manual_seed(seed)
    tf.WhisperForConditionalGeneration(config).save_pretrained(root, safe_serialization=True)
    return str(root)


def _restacking(a, b, encoder, decoder, rest="shared"):
    """A recipe merging `encoder` and `decoder` as given (slices or models), the rest (if any) averaged."""
    modules = {"encoder": encoder, "decoder": decoder}
    if rest is not None:
        modules[rest] = {"models": [{"model": a}, {"model": b}]}
    return {"merge_method": "linear", "modules": modules}


DROP = {"slices": [{"sources": [{"model": "A", "layer_range": [0, 1]}]}]}  # 2 layers -> 1
GROW = {
    "slices": [
        {"sources": [{"model": "A", "layer_range": [0, 2]}]},
        {"sources": [{"model": "B", "layer_range": [1, 2]}]},
    ]
}  # 2 layers -> 3
KEEP = {"models": [{"model": "A"}, {"model": "B"}]}


def _named(part, a, b):
    return json.loads(json.dumps(part).replace('"A"', json.dumps(a)).replace('"B"', json.dumps(b)))


@pytest.mark.parametrize(
    "kind, encoder, decoder, expected",
    [
        ("t5", DROP, KEEP, {"num_layers": 1, "num_decoder_layers": 2}),
        ("t5", KEEP, GROW, {"num_layers": 2, "num_decoder_layers": 3}),
        ("whisper", GROW, DROP, {"encoder_layers": 3, "decoder_layers": 1}),
    ],
)
def test_a_restacked_encoder_or_decoder_gets_its_own_config_key(tmp_path, kind, encoder, decoder, expected):
    import transformers

    make = _t5 if kind == "t5" else _whisper
    a, b = make(tmp_path / "a", 0), make(tmp_path / "b", 1)
    rest = "shared" if kind == "t5" else None  # Whisper: every tensor is the encoder's or the decoder's
    recipe = _restacking(a, b, _named(encoder, a, b), _named(decoder, a, b), rest)
    merge(recipe, tmp_path / "out", threads=1)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert {k: config[k] for k in expected} == expected
    auto = transformers.AutoModelForSeq2SeqLM if kind == "t5" else transformers.WhisperForConditionalGeneration
    model = auto.from_pretrained(tmp_path / "out")
    inner = model if kind == "t5" else model.model
    stacks = (
        (inner.encoder.block, inner.decoder.block) if kind == "t5" else (inner.encoder.layers, inner.decoder.layers)
    )
    assert [len(s) for s in stacks] == list(expected.values())


def test_t5_encoder_restacked_keeps_an_implicit_decoder_count(tmp_path):
    a, b = _t5(tmp_path / "a", 0), _t5(tmp_path / "b", 1)
    for folder in (a, b):  # num_decoder_layers absent: T5 reads it as num_layers
        path = tmp_path / folder / "config.json"
        config = json.loads(path.read_text())
        config.pop("num_decoder_layers")
        path.write_text(json.dumps(config))
    merge(_restacking(a, b, _named(DROP, a, b), _named(KEEP, a, b)), tmp_path / "out", threads=1)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (config["num_layers"], config["num_decoder_layers"]) == (1, 2)


def test_restacking_with_no_known_config_key_is_a_plan_error(tmp_path):
    a, b = _t5(tmp_path / "a", 0), _t5(tmp_path / "b", 1)
    for folder in (a, b):  # an encoder-decoder layout modelfusion does not know
        path = tmp_path / folder / "config.json"
        config = json.loads(path.read_text())
        config["model_type"] = "mystery"
        config.pop("num_decoder_layers")
        path.write_text(json.dumps(config))
    with pytest.raises(PlanError, match=r"modules.decoder: its slices change the decoder's layer count, and config"):
        merge(_restacking(a, b, _named(KEEP, a, b), _named(GROW, a, b)), tmp_path / "out", allow_crimes=True)
    both = {"merge_method": "linear", "modules": {"default": _named(DROP, a, b)}}  # encoder and decoder at once
    with pytest.raises(PlanError, match=r"several layer stacks \(decoder.block, encoder.block\); give each"):
        merge(both, tmp_path / "out2", allow_crimes=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


@pytest.fixture(scope="module")
def worded(tmp_path_factory):
    """Two tiny Llamas with a tokenizer (for calibration) and a calibration text, in one folder."""
    from tests.tiny_tokenizers import WORDS, save_worded_llama

    root = tmp_path_factory.mktemp("worded")
    for name, seed in (("ft1", 1), ("ft2", 2)):
        save_worded_llama(root / name, WORDS["a"], seed=seed)
    (root / "data.txt").write_text("the cat sat on the mat\nthe cat sat\non the mat\n", encoding="utf-8")
    return root


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_statistics_files_inside_a_module_are_used(worded, tmp_path):
    from safetensors.torch import save_file

    models = {n: _weights(worded / n) for n in ("ft1", "ft2")}
    fisher = {}
    for i, name in enumerate(models):
        g = torch.Generator().manual_seed(10 + i)
        fisher[name] = {k: torch.rand(v.shape, generator=g) + 0.1 for k, v in models[name].items()}
        save_file({f"fisher:{k}": v for k, v in fisher[name].items()}, str(tmp_path / f"{name}.fisher.safetensors"))
    recipe = _write(
        tmp_path / "recipe.yaml",
        f"merge_method: linear\ndtype: float32\nmodules:\n  lm_head:\n    models: [{{model: {worded}/ft1}}, "
        f"{{model: {worded}/ft2}}]\n  default:\n    merge_method: fisher\n    parameters: {{fisher_floor: 0.0}}\n"
        "    models:\n"
        + "".join(f"      - {{model: {worded}/{n}, statistics: {n}.fisher.safetensors}}\n" for n in models),
    )
    merge(recipe, tmp_path / "out", threads=1)
    out, (a, b), (fa, fb) = _weights(tmp_path / "out"), models.values(), fisher.values()
    for k in out:
        want = (a[k] + b[k]) / 2 if k == "lm_head.weight" else (fa[k] * a[k] + fb[k] * b[k]) / (fa[k] + fb[k])
        torch.testing.assert_close(out[k], want)


def test_calibration_inside_a_module_computes_its_statistics(worded, tmp_path):
    entries = "- {model: ft1, calibration: {text: data.txt}}\n- {model: ft2, calibration: {text: data.txt}}\n"
    module = "".join(f"      {line}\n" for line in entries.splitlines())
    in_module = _write(
        worded / "in_module.yaml",
        "merge_method: linear\ndtype: float32\nmodules:\n  lm_head:\n    models: [{model: ft1}, {model: ft2}]\n"
        f"  default:\n    merge_method: regmean\n    models:\n{module}",
    )
    whole = _write(worded / "whole.yaml", f"merge_method: regmean\ndtype: float32\nmodels:\n{entries}")
    result = merge(in_module, tmp_path / "modules", threads=1, cache_dir=tmp_path / "cache")
    assert [j.model for j in result.calibration] == ["ft1", "ft2"]
    merge(whole, tmp_path / "whole", threads=1, cache_dir=tmp_path / "cache")
    got, want = _weights(tmp_path / "modules"), _weights(tmp_path / "whole")
    a, b = _weights(worded / "ft1"), _weights(worded / "ft2")
    assert not torch.equal(
        want["model.layers.0.mlp.up_proj.weight"],
        (a["model.layers.0.mlp.up_proj.weight"] + b["model.layers.0.mlp.up_proj.weight"]) / 2,
    )
    for k in got:
        if k == "lm_head.weight":
            torch.testing.assert_close(got[k], (a[k] + b[k]) / 2)
        else:
            assert torch.equal(got[k], want[k]), k


def test_a_module_of_a_later_stage_takes_an_earlier_stage(worded, tmp_path):
    recipe = _write(
        tmp_path / "stages.yaml",
        f"name: first\nmerge_method: linear\nmodels: [{{model: {worded}/ft1, parameters: {{weight: 0.25}}}}, "
        f"{{model: {worded}/ft2, parameters: {{weight: 0.75}}}}]\n---\nmerge_method: linear\nmodules:\n"
        f"  lm_head:\n    models: [{{model: first}}]\n  default:\n    models: [{{model: {worded}/ft1}}]\n",
    )
    merge(recipe, tmp_path / "out", threads=1, cache_dir=tmp_path / "cache")
    out, a, b = _weights(tmp_path / "out"), _weights(worded / "ft1"), _weights(worded / "ft2")
    torch.testing.assert_close(out["lm_head.weight"], 0.25 * a["lm_head.weight"] + 0.75 * b["lm_head.weight"])
    assert torch.equal(out["model.norm.weight"], a["model.norm.weight"])
