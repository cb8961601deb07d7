"""mergekit users switch without surprises (issue 14): unused parameters warn (errors with --strict), filter "*",
mergekit's shard-size spellings, the architecture guard (--allow-crimes), tokenizers larger than the embedding."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from modelfusion import merge
from modelfusion.checkpoint.shard_layout import parse_size
from modelfusion.cli.main import app
from modelfusion.errors import PlanError, RecipeWarning, UserError
from modelfusion.recipe.schema import FilterEntry
from modelfusion.recipe.settings import evaluate_setting
from tests.tiny_tokenizers import save_word_tokenizer, save_worded_llama

runner = CliRunner()


def _slerp(a: Path, b: Path, **extra) -> dict:
    """mergekit's test-suite slerp recipe: every model carries a `weight` slerp does not use."""
    return {
        "merge_method": "slerp",
        "base_model": str(a),
        "models": [{"model": str(a), "parameters": {"weight": 0.6}}, {"model": str(b), "parameters": {"weight": 0.4}}],
        "parameters": {"t": 0.35},
        **extra,
    }


# -- 1. a parameter the method does not use -------------------------------------------------------------------------
def test_unused_parameter_is_a_warning_naming_parameter_and_method(tiny_llamas, tmp_path):
    a, b = tiny_llamas[:2]
    with pytest.warns(RecipeWarning, match="method 'slerp' does not use parameter 'weight'"):
        merge(_slerp(a, b), tmp_path / "out", threads=1)
    plain = {**_slerp(a, b), "models": [{"model": str(a)}, {"model": str(b)}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        merge(plain, tmp_path / "plain", threads=1)
    ours, ref = load_file(tmp_path / "out" / "model.safetensors"), load_file(tmp_path / "plain" / "model.safetensors")
    assert all(torch.equal(ours[k], ref[k]) for k in ref)  # ignored, as mergekit ignores it


def test_strict_makes_the_warning_an_error(tiny_llamas, tmp_path):
    with pytest.raises(PlanError, match=r"does not use parameter 'weight'.*--strict"):
        merge(_slerp(*tiny_llamas[:2]), tmp_path / "out", threads=1, strict=True)
    assert not (tmp_path / "out").exists()


def test_unknown_parameter_stays_an_error(tiny_llamas, tmp_path):
    recipe = _slerp(*tiny_llamas[:2])
    recipe["parameters"]["tt"] = 0.1  # no method has it: a typo
    with pytest.raises(PlanError, match="has no parameter 'tt' \\(did you mean 't'\\?\\)"):
        merge(recipe, tmp_path / "out", threads=1)


def test_cli_prints_the_warning_as_one_line_and_strict_exits_2(tiny_llamas, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_slerp(*tiny_llamas[:2])))
    done = runner.invoke(app, ["merge", str(path), str(tmp_path / "out"), "-q", "-j", "1"])
    assert done.exit_code == 0, done.output
    lines = [line for line in done.stderr.splitlines() if "weight" in line]
    assert len(lines) == 2 and all(line.startswith("warning: ") for line in lines), done.stderr
    assert "Traceback" not in done.output and "RecipeWarning" not in done.output
    strict = runner.invoke(app, ["merge", str(path), str(tmp_path / "strict"), "-q", "--strict"])
    assert strict.exit_code == 2 and "Traceback" not in strict.output
    assert "does not use parameter 'weight'" in strict.stderr


# -- 7. filter "*" --------------------------------------------------------------------------------------------------
def test_star_filter_matches_every_tensor_and_other_filters_are_substrings():
    star = [FilterEntry(filter="*", value=0.25), FilterEntry(value=1.0)]
    assert evaluate_setting(star, "model.layers.0.mlp.up_proj.weight", 0.0) == 0.25
    assert evaluate_setting(star, "lm_head.weight", 0.0) == 0.25
    mlp = [FilterEntry(filter="mlp", value=0.5), FilterEntry(filter="*", value=0.25)]
    assert evaluate_setting(mlp, "model.layers.0.mlp.up_proj.weight", 0.0) == 0.5
    assert evaluate_setting(mlp, "model.embed_tokens.weight", 0.0) == 0.25
    assert evaluate_setting([FilterEntry(filter="m*p", value=1.0)], "model.layers.0.mlp.up_proj.weight", 0.0) is None


# -- 8. shard sizes -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5B", 5 * 10**9),  # mergekit: billions
        ("5b", 5 * 10**9),
        ("500M", 500 * 10**6),
        ("2K", 2000),
        ("77", 77),
        ("5GB", 5 * 10**9),
        ("500MiB", 500 * 2**20),
        (1024, 1024),
    ],
)
def test_shard_size_takes_mergekit_spellings(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["5 parsecs", "5X", "0B", True])
def test_shard_size_rejects_nonsense(text):
    with pytest.raises(UserError, match="--out-shard-size"):
        parse_size(text)


# -- 11. architecture guard -----------------------------------------------------------------------------------------
def _other_architecture(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config["model_type"], config["architectures"] = "mistral", ["MistralForCausalLM"]
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def test_different_architectures_are_refused_unless_allow_crimes(tiny_llamas, tmp_path):
    other = _other_architecture(tiny_llamas[1], tmp_path / "mistral")
    recipe = {"merge_method": "linear", "models": [{"model": str(tiny_llamas[0])}, {"model": str(other)}]}
    recipe["parameters"] = {"weight": 1.0}
    with pytest.raises(PlanError, match=r"different architectures.*MistralForCausalLM.*--allow-crimes"):
        merge(recipe, tmp_path / "out", threads=1)
    assert not (tmp_path / "out").exists()
    merge(recipe, tmp_path / "crimes", threads=1, allow_crimes=True)
    a = load_file(tiny_llamas[0] / "model.safetensors")
    b = load_file(tiny_llamas[1] / "model.safetensors")
    out = load_file(tmp_path / "crimes" / "model.safetensors")
    torch.testing.assert_close(out["lm_head.weight"], (a["lm_head.weight"] + b["lm_head.weight"]) / 2)


def test_cli_allow_crimes(tiny_llamas, tmp_path):
    other = _other_architecture(tiny_llamas[1], tmp_path / "mistral")
    recipe = {"merge_method": "linear", "models": [{"model": str(tiny_llamas[0])}, {"model": str(other)}]}
    recipe["parameters"] = {"weight": 1.0}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    refused = runner.invoke(app, ["merge", str(path), str(tmp_path / "out"), "-q"])
    assert refused.exit_code == 2 and "--allow-crimes" in refused.stderr
    done = runner.invoke(app, ["merge", str(path), str(tmp_path / "out"), "-q", "--allow-crimes"])
    assert done.exit_code == 0, done.output


# -- 5. a tokenizer with more tokens than the embedding has rows ----------------------------------------------------
def _overlong(folder: Path, words: list[str], extra: list[str], seed: int) -> Path:
    """A worded Llama whose tokenizer then gains `extra` tokens the embedding has no rows for."""
    save_worded_llama(folder, words, seed=seed)
    save_word_tokenizer(folder, words + extra)
    return folder


def test_tokens_beyond_the_embedding_are_left_out_with_a_warning(tmp_path):
    a = save_worded_llama(tmp_path / "a", ["cat", "dog"], seed=0)
    b = _overlong(tmp_path / "b", ["dog", "emu"], ["yak"], seed=1)
    recipe = {
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        "base_model": str(a),
        "models": [{"model": str(a)}, {"model": str(b)}],
        "tokenizer": {"source": "union"},
    }
    with pytest.warns(RecipeWarning, match="tokenizer of .*b has 1 token\\(s\\) with ids beyond its 4 embedding rows"):
        merge(recipe, tmp_path / "out", threads=1)
    out = load_file(tmp_path / "out" / "model.safetensors")
    tok = json.loads((tmp_path / "out" / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"] | {t["content"]: t["id"] for t in tok["added_tokens"]}
    assert "yak" not in vocab and set(vocab) == {"[UNK]", "[PAD]", "cat", "dog", "emu"}
    ea = load_file(a / "model.safetensors")["model.embed_tokens.weight"]
    eb = load_file(b / "model.safetensors")["model.embed_tokens.weight"]
    assert out["model.embed_tokens.weight"].shape[0] == 5
    # dog: both have it -> mean of a's row 3 and b's row 2; emu: only b -> b's row 3 in both inputs
    torch.testing.assert_close(out["model.embed_tokens.weight"][vocab["dog"]], (ea[3] + eb[2]) / 2)
    torch.testing.assert_close(out["model.embed_tokens.weight"][vocab["emu"]], eb[3])


def test_an_overlong_output_tokenizer_that_must_grow_is_a_plan_error(tmp_path):
    a = _overlong(tmp_path / "a", ["cat", "dog"], ["yak"], seed=0)
    b = save_worded_llama(tmp_path / "b", ["dog", "emu"], seed=1)
    recipe = {
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        "base_model": str(a),
        "models": [{"model": str(a)}, {"model": str(b)}],
        "tokenizer": {"source": "union"},
    }
    with pytest.raises(PlanError, match="tokens beyond its embedding rows"):
        merge(recipe, tmp_path / "out", threads=1)
    assert not (tmp_path / "out").exists()
