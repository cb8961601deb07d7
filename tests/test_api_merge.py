"""modelfusion.merge end to end on tiny random Llama / BERT / GPT-2 checkpoints.

Every expected tensor is computed here from the input files with a few lines of torch.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

import modelfusion
from tests.conftest import snapshot
from tests.tiny_models import save_tiny_model

LLAMA_LAYERS = 4


def load_dir(folder: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


def write_recipe(folder: Path, recipe: dict, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def models(*paths: Path, weights: list | None = None) -> list[dict]:
    entries = [{"model": str(p)} for p in paths]
    for e, w in zip(entries, weights or []):
        e["parameters"] = {"weight": w}
    return entries


def test_weighted_linear_equals_weighted_sum(tiny_llamas, tmp_path):
    recipe = write_recipe(tmp_path, {"merge_method": "linear", "models": models(*tiny_llamas, weights=[1, 2, 3])})
    modelfusion.merge(recipe, tmp_path / "out", threads=1)
    ins = [load_dir(p) for p in tiny_llamas]
    out = load_dir(tmp_path / "out")
    assert set(out) == set(ins[0])
    for name, t in out.items():
        expected = (1 * ins[0][name] + 2 * ins[1][name] + 3 * ins[2][name]) / 6
        torch.testing.assert_close(t, expected, atol=1e-6, rtol=1e-6, msg=name)


def _gradient(points: list[float], t: float) -> float:
    pos = t * (len(points) - 1)
    lo = min(int(pos), len(points) - 2)
    return points[lo] + (points[lo + 1] - points[lo]) * (pos - lo)


def test_gradients_and_filters_resolved_per_layer(tiny_llamas, tmp_path):
    a, b = tiny_llamas[:2]
    recipe = {
        "merge_method": "linear",
        "models": [
            {"model": str(a), "parameters": {"weight": [{"filter": "up_proj", "value": 0.55}]}},
            {"model": str(b), "parameters": {"weight": 0.0}},
        ],
        "parameters": {
            "normalize": False,
            "weight": [
                {"filter": "self_attn", "value": [0.0, 0.5, 1.0, 0.2, 0.7]},
                {"filter": "mlp", "value": [1.0, 0.0]},
                {"value": 0.9},
            ],
        },
    }
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=1)
    src, out = load_dir(a), load_dir(tmp_path / "out")

    def weight_of(name: str) -> float:
        parts = name.split(".")
        layer = int(parts[2]) if parts[1] == "layers" else None
        t = layer / (LLAMA_LAYERS - 1) if layer is not None else 0.0
        if "up_proj" in name:
            return 0.55
        if "self_attn" in name:
            return _gradient([0.0, 0.5, 1.0, 0.2, 0.7], t)
        if "mlp" in name:
            return _gradient([1.0, 0.0], t)
        return 0.9

    for name, t in out.items():
        torch.testing.assert_close(t, weight_of(name) * src[name], atol=1e-6, rtol=1e-6, msg=name)
    torch.testing.assert_close(
        out["model.layers.1.mlp.gate_proj.weight"], src["model.layers.1.mlp.gate_proj.weight"] * (2 / 3)
    )


def _slerp_reference(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    a64, b64 = a.double(), b.double()
    cos = float((a64.flatten() @ b64.flatten()) / (a64.norm() * b64.norm()))
    if abs(cos) > 0.9995:
        return (1 - t) * a64 + t * b64
    omega = math.acos(cos)
    return (math.sin((1 - t) * omega) * a64 + math.sin(t * omega) * b64) / math.sin(omega)


@pytest.mark.parametrize("t", [0.0, 0.5, 1.0])
def test_slerp_between_base_and_other(tiny_llamas, tmp_path, t):
    a, b = tiny_llamas[:2]
    recipe = {"merge_method": "slerp", "base_model": str(a), "models": models(a, b), "parameters": {"t": t}}
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=1)
    ta, tb, out = load_dir(a), load_dir(b), load_dir(tmp_path / "out")
    for name, got in out.items():
        torch.testing.assert_close(got.double(), _slerp_reference(ta[name], tb[name], t), atol=1e-6, rtol=1e-6)
    if t == 0.0:
        torch.testing.assert_close(out["lm_head.weight"], ta["lm_head.weight"], atol=1e-6, rtol=0)


def test_canonical_slerp_recipe_with_slices_and_filtered_gradients(tiny_llamas, tmp_path):
    a, b = tiny_llamas[:2]
    attn, mlp = [0, 0.5, 0.3, 0.7, 1], [1, 0.5, 0.7, 0.3, 0]
    recipe = {
        "slices": [{"sources": [{"model": str(a), "layer_range": [0, 4]}, {"model": str(b), "layer_range": [0, 4]}]}],
        "merge_method": "slerp",
        "base_model": str(a),
        "parameters": {"t": [{"filter": "self_attn", "value": attn}, {"filter": "mlp", "value": mlp}, {"value": 0.5}]},
        "dtype": "float32",
    }
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=1)
    ta, tb, out = load_dir(a), load_dir(b), load_dir(tmp_path / "out")
    for i in range(LLAMA_LAYERS):
        for part, points in (("self_attn.q_proj.weight", attn), ("mlp.down_proj.weight", mlp)):
            name = f"model.layers.{i}.{part}"
            want = _slerp_reference(ta[name], tb[name], _gradient(points, i / (LLAMA_LAYERS - 1)))
            torch.testing.assert_close(out[name].double(), want, atol=1e-6, rtol=1e-6)
    want = _slerp_reference(ta["lm_head.weight"], tb["lm_head.weight"], 0.5)
    torch.testing.assert_close(out["lm_head.weight"].double(), want, atol=1e-6, rtol=1e-6)


def test_slices_renumber_and_set_layer_count(tiny_llamas, tmp_path):
    a, b = tiny_llamas[:2]
    recipe = {
        "merge_method": "passthrough",
        "slices": [
            {"sources": [{"model": str(a), "layer_range": [0, 2]}]},
            {"sources": [{"model": str(b), "layer_range": [1, 4]}]},
        ],
    }
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=1)
    ta, tb, out = load_dir(a), load_dir(b), load_dir(tmp_path / "out")
    name = "model.layers.{}.mlp.up_proj.weight"
    assert torch.equal(out[name.format(1)], ta[name.format(1)])
    assert torch.equal(out[name.format(2)], tb[name.format(1)])
    assert torch.equal(out[name.format(4)], tb[name.format(3)])
    assert json.loads((tmp_path / "out" / "config.json").read_text())["num_hidden_layers"] == 5


@pytest.mark.parametrize("kind", ["llama", "bert", "gpt2"])
def test_output_loads_with_transformers_and_gives_finite_logits(kind, tiny_llamas, tiny_berts, tiny_gpt2s, tmp_path):
    import transformers as tf

    folders = {"llama": tiny_llamas, "bert": tiny_berts, "gpt2": tiny_gpt2s}[kind][:2]
    recipe = {"merge_method": "linear", "models": models(*folders, weights=[0.3, 0.7])}
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=2)
    cls = {"llama": tf.LlamaForCausalLM, "bert": tf.BertModel, "gpt2": tf.GPT2LMHeadModel}[kind]
    model = cls.from_pretrained(tmp_path / "out").eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([[1, 5, 9, 3]]))
    logits = out.last_hidden_state if kind == "bert" else out.logits
    assert logits.shape[:2] == (1, 4) and torch.isfinite(logits).all()


def test_thread_count_does_not_change_a_byte(tiny_llamas, tmp_path):
    recipe = write_recipe(tmp_path, {"merge_method": "linear", "models": models(*tiny_llamas, weights=[0.2, 0.3, 0.5])})
    modelfusion.merge(recipe, tmp_path / "one", threads=1, out_shard_size="60KB")
    modelfusion.merge(recipe, tmp_path / "two", threads=2, out_shard_size="60KB")
    shards = sorted(p.name for p in (tmp_path / "one").glob("*.safetensors"))
    assert len(shards) > 1
    for name in [*shards, "model.safetensors.index.json"]:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_sharded_output_round_trips(tiny_llamas, tmp_path):
    import transformers as tf

    recipe = write_recipe(tmp_path, {"merge_method": "linear", "models": models(*tiny_llamas[:2])})
    modelfusion.merge(recipe, tmp_path / "single", threads=1)
    modelfusion.merge(recipe, tmp_path / "sharded", threads=2, out_shard_size="40KB")
    shards = sorted((tmp_path / "sharded").glob("*.safetensors"))
    assert len(shards) >= 3 and all(p.stat().st_size < 40_000 + 4096 for p in shards)
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {p.name for p in shards}
    single, sharded = load_dir(tmp_path / "single"), load_dir(tmp_path / "sharded")
    assert single.keys() == sharded.keys() == index["weight_map"].keys()
    for name in single:
        assert torch.equal(single[name], sharded[name])
    m1 = tf.LlamaForCausalLM.from_pretrained(tmp_path / "sharded")
    assert torch.equal(m1.state_dict()["model.norm.weight"], single["model.norm.weight"])
    # a sharded output is itself a valid input
    again = write_recipe(tmp_path, {"merge_method": "linear", "models": models(tmp_path / "sharded")}, "again.yaml")
    modelfusion.merge(again, tmp_path / "again", threads=1)
    for name, t in load_dir(tmp_path / "again").items():
        assert torch.equal(t, single[name])


def test_pickle_inputs_merge_exactly_like_their_safetensors_twins(tmp_path):
    safe = [save_tiny_model("gpt2", tmp_path / f"s{i}", seed=10 + i) for i in range(2)]
    pickled, single_files = [], []
    for i, folder in enumerate(safe):
        state = load_file(folder / "model.safetensors")
        twin = tmp_path / f"p{i}"  # what save_pretrained(safe_serialization=False) wrote before transformers 5
        shutil.copytree(folder, twin, ignore=shutil.ignore_patterns("*.safetensors"))
        torch.save(state, twin / "pytorch_model.bin")
        pickled.append(twin)
        torch.save({"state_dict": state}, tmp_path / f"m{i}.pt")  # a lone training checkpoint, nested
        single_files.append(tmp_path / f"m{i}.pt")
    results = {}
    for label, inputs in (("safe", safe), ("bin", pickled), ("pt", single_files)):
        recipe = {"merge_method": "linear", "models": models(*inputs, weights=[0.25, 0.75])}
        out = tmp_path / f"out_{label}"  # lone .pt inputs give a .pt by default (docs/formats.md)
        modelfusion.merge(write_recipe(tmp_path, recipe, f"{label}.yaml"), out, threads=1, out_format="safetensors")
        results[label] = (out / "model.safetensors").read_bytes()
    assert results["safe"] == results["bin"] == results["pt"]


def _with_position_ids(folder: Path, dest: Path, offset: int) -> Path:
    shutil.copytree(folder, dest)
    sd = load_file(dest / "model.safetensors")
    sd["embeddings.position_ids"] = torch.arange(64, dtype=torch.int64).unsqueeze(0) + offset
    save_file(sd, dest / "model.safetensors", metadata={"format": "pt"})
    return dest


def test_bert_int64_position_ids_copied_from_the_base_never_averaged(tiny_berts, tmp_path):
    a = _with_position_ids(tiny_berts[0], tmp_path / "a", offset=0)
    b = _with_position_ids(tiny_berts[1], tmp_path / "b", offset=100)
    recipe = {"merge_method": "linear", "base_model": str(b), "models": models(a, b)}
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=1)
    out = load_dir(tmp_path / "out")
    ids = out["embeddings.position_ids"]
    assert ids.dtype == torch.int64
    assert torch.equal(ids, torch.arange(64).unsqueeze(0) + 100)  # the base's, not the mean (50 + arange)
    ta, tb = load_dir(a), load_dir(b)
    name = "encoder.layer.1.attention.self.query.weight"
    torch.testing.assert_close(out[name], (ta[name] + tb[name]) / 2)


def test_inputs_are_untouched(tiny_llamas, tmp_path):
    before = [snapshot(p) for p in tiny_llamas]
    recipe = write_recipe(tmp_path, {"merge_method": "linear", "models": models(*tiny_llamas)})
    modelfusion.merge(recipe, tmp_path / "out", threads=2)
    assert [snapshot(p) for p in tiny_llamas] == before


def _tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"w{i}": i for i in range(3, 128)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def test_companion_files_and_model_card(tiny_llamas, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_llamas[0], base)
    _tiny_tokenizer().save(str(base / "tokenizer.json"))
    (base / "tokenizer_config.json").write_text('{"model_max_length": 64}')
    (base / "special_tokens_map.json").write_text('{"bos_token": "<s>"}')
    other = tiny_llamas[1]
    recipe = {"merge_method": "slerp", "base_model": str(base), "models": models(base, other), "parameters": {"t": 0.3}}
    modelfusion.merge(write_recipe(tmp_path, recipe), tmp_path / "out", threads=1)
    out = tmp_path / "out"
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        assert (out / name).read_bytes() == (base / name).read_bytes(), name
    config, base_config = json.loads((out / "config.json").read_text()), json.loads((base / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["hidden_size"] == base_config["hidden_size"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\n")
    front = yaml.safe_load(card.split("---\n")[1])
    assert "base_model" not in front  # Hub ids only; local folders are named in the body
    assert f"`{base.name}`" in card and f"`{other.name}`" in card
    assert "merge" in front["tags"] and "modelfusion" in front["tags"]
    assert "merge_method: slerp" in card
    assert yaml.safe_load((out / "modelfusion_recipe.yaml").read_text())["parameters"] == {"t": 0.3}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".modelfusion")]  # no staging left behind


def test_dry_run_writes_nothing(tiny_llamas, tmp_path):
    recipe = write_recipe(tmp_path, {"merge_method": "linear", "models": models(*tiny_llamas)})
    before = sorted(p.name for p in tmp_path.iterdir())
    result = modelfusion.merge(recipe, tmp_path / "out", dry_run=True, threads=2)
    assert result.out_dir is None
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    s = result.summary
    n = len(load_dir(tiny_llamas[0]))
    size = sum(t.numel() * t.element_size() for t in load_dir(tiny_llamas[0]).values())
    assert s.tensors == n and s.bytes_to_write == size and s.bytes_to_read == 3 * size
    assert s.peak_memory > 0 and s.shards == 1 and s.by_method == {"linear": n}


def test_relative_model_paths_resolve_against_cwd_then_recipe_folder(tiny_llamas, tmp_path, monkeypatch):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    shutil.copytree(tiny_llamas[0], recipes / "m")
    recipe = write_recipe(recipes, {"merge_method": "linear", "models": [{"model": "m"}]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    modelfusion.merge(recipe, tmp_path / "out1", threads=1)  # found next to the recipe
    assert torch.equal(load_dir(tmp_path / "out1")["lm_head.weight"], load_dir(tiny_llamas[0])["lm_head.weight"])
    shutil.copytree(tiny_llamas[1], elsewhere / "m")
    modelfusion.merge(recipe, tmp_path / "out2", threads=1)  # the working directory wins
    assert torch.equal(load_dir(tmp_path / "out2")["lm_head.weight"], load_dir(tiny_llamas[1])["lm_head.weight"])


def test_dtype_and_out_dtype(tiny_llamas, tmp_path):
    a, b = tiny_llamas[:2]
    ta, tb = load_dir(a), load_dir(b)
    recipe = write_recipe(tmp_path, {"merge_method": "linear", "models": models(a, b), "dtype": "bfloat16"}, "bf.yaml")
    modelfusion.merge(recipe, tmp_path / "bf", threads=1)
    out = load_dir(tmp_path / "bf")
    name = "model.layers.0.mlp.up_proj.weight"
    # inputs are rounded to `dtype` (as mergekit loads them), combined in float32, cast to the output dtype
    expected = ((ta[name].bfloat16().float() + tb[name].bfloat16().float()) / 2).bfloat16()
    assert out[name].dtype == torch.bfloat16 and torch.equal(out[name], expected)
    assert json.loads((tmp_path / "bf" / "config.json").read_text())["dtype"] == "bfloat16"
    recipe = {"merge_method": "linear", "models": models(a, b), "dtype": "float32", "out_dtype": "float16"}
    modelfusion.merge(write_recipe(tmp_path, recipe, "fp16.yaml"), tmp_path / "fp16", threads=1)
    out = load_dir(tmp_path / "fp16")
    assert out[name].dtype == torch.float16 and torch.equal(out[name], ((ta[name] + tb[name]) / 2).half())


def test_merge_state_dicts_linear_with_weights():
    g = torch.Generator().manual_seed(0)
    sds = [{"w": torch.randn(4, 3, generator=g), "step": torch.tensor([i])} for i in range(3)]
    out = modelfusion.merge_state_dicts(sds, method="linear", weight=[1.0, 1.0, 2.0])
    torch.testing.assert_close(out["w"], (sds[0]["w"] + sds[1]["w"] + 2 * sds[2]["w"]) / 4)
    assert torch.equal(out["step"], torch.tensor([0]))  # integer tensors are copied, from the first model
    out["w"].add_(100.0)
    out["step"].add_(100)
    assert abs(float(sds[0]["w"].max())) < 100 and int(sds[0]["step"]) == 0  # results are independent tensors


def test_merge_state_dicts_slerp_with_base_index():
    g = torch.Generator().manual_seed(1)
    sds = [{"w": torch.randn(8, generator=g)} for _ in range(2)]
    out = modelfusion.merge_state_dicts(sds, method="slerp", base=1, t=0.25)
    want = _slerp_reference(sds[1]["w"], sds[0]["w"], 0.25)  # t = 0 is the base (index 1)
    torch.testing.assert_close(out["w"].double(), want, atol=1e-6, rtol=1e-6)
    for sd in sds:
        assert out["w"].untyped_storage().data_ptr() != sd["w"].untyped_storage().data_ptr()


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"weight": [1.0]}, "weight: 1 value"),
        ({"weight": [1.0, 2.0, 3.0]}, "weight: 3 value"),
        ({"method": "slerp", "base": 5, "t": 0.5}, "base=5 is not an index"),
        ({"method": "slerp", "t": 0.5}, "needs base_model"),
        ({"method": "linaer"}, "did you mean 'linear'"),
        ({"weight": [{"x": 1}, 2.0]}, "parameters.weight: must be a number"),
    ],
)
def test_merge_state_dicts_bad_arguments_are_user_errors(kwargs, pattern):
    from modelfusion.errors import UserError

    sds = [{"w": torch.zeros(3)}, {"w": torch.ones(3)}]
    with pytest.raises(UserError, match=pattern):
        modelfusion.merge_state_dicts(sds, **kwargs)
