"""Recipe features against mergekit 0.1.5 (black box): a frankenmerge and tokenizer-alignment recipes.

mergekit runs once (one mergekit-multi process, each recipe a named stage); modelfusion runs each recipe.
Not matched on purpose: the ids mergekit gives tokens added to the union vocabulary follow Python set order
(they change from run to run), so rows are compared by token, not by id; modelfusion appends them in model order,
each model's in id order (deterministic).
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from modelfusion.api import merge
from modelfusion.errors import RecipeWarning
from tests.tiny_tokenizers import WORDS, save_word_tokenizer, save_worded_llama

MULTI = Path(__file__).resolve().parents[2] / ".peers" / "mergekit" / "bin" / "mergekit-multi"
pytestmark = [
    pytest.mark.mergekit,
    pytest.mark.skipif(not MULTI.exists(), reason=f"mergekit 0.1.5 not installed at {MULTI} (run `make peers`)"),
]


def _recipes(m: dict[str, Path]) -> dict[str, dict]:
    def p(k):
        return str(m[k])

    linear = {"merge_method": "linear", "dtype": "float32", "parameters": {"weight": 1.0}}
    return {
        "franken": {
            "merge_method": "passthrough",
            "dtype": "float32",
            "slices": [
                {"sources": [{"model": p("a"), "layer_range": [0, 3]}]},
                {"sources": [{"model": p("a2"), "layer_range": [1, 4]}]},
                {"sources": [{"model": p("a2"), "layer_range": [3, 4]}], "parameters": {"scale": 0.5}},
            ],
        },
        "union": {
            **linear,
            "base_model": p("a"),
            "models": [{"model": p(k)} for k in "abc"],
            "tokenizer": {
                "source": "union",
                "pad_to_multiple_of": 8,
                "tokens": {
                    "dog": {"source": p("c")},
                    "ran": {"source": {"kind": "zero"}},
                    "log": {"source": {"kind": "model_token", "model": p("a"), "token": "cat"}, "force": True},
                },
            },
        },
        "overlong": {  # b_long's tokenizer has a token its embedding has no row for: left out, as mergekit
            **linear,
            "base_model": p("a"),
            "models": [{"model": p("a")}, {"model": p("b_long")}],
            "tokenizer": {"source": "union"},
        },
        "named": {
            **linear,
            "base_model": p("a"),
            "models": [{"model": p(k)} for k in "ab"],
            "tokenizer_source": p("c"),
        },
    }


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipes_parity")
    models = {k: save_worded_llama(root / k, WORDS[k], seed=i, layers=4) for i, k in enumerate("abc")}
    models["a2"] = save_worded_llama(root / "a2", WORDS["a"], seed=5, layers=4)
    models["b_long"] = save_worded_llama(root / "b_long", WORDS["b"], seed=6, layers=4)
    save_word_tokenizer(root / "b_long", [*WORDS["b"], "zzbeyondrows"])
    recipes = _recipes(models)
    codes = {name: f"mfrecipestage{i}" for i, name in enumerate(recipes)}
    docs = [{"name": codes[n], **r} for n, r in recipes.items()] + _two_stages(models)
    config = root / "all.yaml"
    config.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [str(MULTI), str(config), "--intermediate-dir", str(root / "mk"), "--no-lazy", "--quiet"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    ours = {}
    for name, recipe in recipes.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecipeWarning)  # overlong: the left-out token
            merge(recipe, root / "mf" / name, threads=1)
        ours[name] = root / "mf" / name
    merge(yaml.safe_dump_all(_two_stages(models), sort_keys=False), root / "mf" / "staged", cache_dir=root / "cache")
    pairs = {n: (root / "mk" / codes[n], ours[n]) for n in recipes}
    return pairs | {"staged": (root / "mk" / "mfstagedfinal", root / "mf" / "staged")}


def _two_stages(m: dict[str, Path]) -> list[dict]:
    """A multi-stage recipe: a union-vocabulary soup, then SLERP of that soup with model a (named stages)."""
    first = {
        "name": "mfstagedsoup",
        "merge_method": "linear",
        "dtype": "float32",
        "parameters": {"weight": 1.0},
        "base_model": str(m["a"]),
        "models": [{"model": str(m["a"])}, {"model": str(m["b"])}],
        "tokenizer": {"source": "union"},
    }
    second = {
        "name": "mfstagedfinal",
        "merge_method": "slerp",
        "dtype": "float32",
        "base_model": "mfstagedsoup",
        "models": [{"model": "mfstagedsoup"}, {"model": str(m["c"])}],
        "parameters": {"t": [0.2, 0.7]},
        "tokenizer": {"source": "union"},
    }
    return [first, second]


def _load(folder: Path):
    tensors = load_file(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    vocab = json.loads((folder / "tokenizer.json").read_text())
    ids = dict(vocab["model"]["vocab"]) | {a["content"]: a["id"] for a in vocab["added_tokens"]}
    return tensors, config, ids


def test_frankenmerge_matches_mergekit(both):
    (mk, _, _), (mf, _, _) = (_load(f) for f in both["franken"])
    mk_config, mf_config = (json.loads((f / "config.json").read_text()) for f in both["franken"])
    assert mf_config["num_hidden_layers"] == mk_config["num_hidden_layers"] == 7
    assert sorted(mf) == sorted(mk)
    worst = max((mf[n] - mk[n]).abs().max().item() for n in mk)
    assert worst == 0.0


@pytest.mark.parametrize("name", ["union", "named", "staged", "overlong"])
def test_tokenizer_alignment_matches_mergekit_by_token(both, name):
    (mk, mk_config, mk_ids), (mf, mf_config, mf_ids) = (_load(f) for f in both[name])
    assert set(mf_ids) == set(mk_ids)
    assert mf_config["vocab_size"] == mk_config["vocab_size"]
    for tensor in ("model.embed_tokens.weight", "lm_head.weight"):
        assert mf[tensor].shape == mk[tensor].shape
        for tok, i in mk_ids.items():
            torch.testing.assert_close(mf[tensor][mf_ids[tok]], mk[tensor][i], rtol=0, atol=1e-6, msg=f"{tensor} {tok}")
        n = len(mk_ids)  # padding rows
        torch.testing.assert_close(mf[tensor][n:], mk[tensor][n:], rtol=0, atol=1e-6)
    others = [t for t in mk if t not in ("model.embed_tokens.weight", "lm_head.weight")]
    assert max((mf[t] - mk[t]).abs().max().item() for t in others) <= 1e-6
