"""Tokenizer / vocabulary alignment: union, base, a named model, `tokens:` overrides, padding, tied embeddings."""

from __future__ import annotations

import json
import shutil
from unittest import mock

import pytest
import torch
from safetensors.torch import load_file

from modelfusion.api import merge
from modelfusion.checkpoint import Checkpoint
from modelfusion.errors import PlanError
from tests.tiny_tokenizers import SPECIALS, WORDS, save_worded_llama

EMB, HEAD = "model.embed_tokens.weight", "lm_head.weight"


@pytest.fixture(scope="module")
def worded(tmp_path_factory):
    root = tmp_path_factory.mktemp("worded")
    out = {k: save_worded_llama(root / k, w, seed=i) for i, (k, w) in enumerate(WORDS.items())}
    out["ta"] = save_worded_llama(root / "ta", WORDS["a"], seed=7, tie=True)
    out["tb"] = save_worded_llama(root / "tb", WORDS["b"], seed=8, tie=True)
    return out


def _vocab(key: str) -> dict[str, int]:
    return {w: i for i, w in enumerate(SPECIALS + WORDS[key])}


def _rows(folder, name=EMB):
    return load_file(folder / "model.safetensors")[name]


def _expected_union_linear(worded, keys, base, name, extra_rules=None, order=None):
    """mergekit's rules written out: each model's row of each token, then the average (linear, equal weights)."""
    vocabs = {k: _vocab(k) for k in keys}
    rows = {k: _rows(worded[k], name) for k in keys}
    tokens = order or list(dict.fromkeys(t for k in [base, *keys] for t in sorted(vocabs[k], key=vocabs[k].get)))
    out = []
    for tok in tokens:
        per_model = []
        for k in keys:
            rule = (extra_rules or {}).get(tok)
            if rule is not None and (rule[1] or tok not in vocabs[k]):
                per_model.append(rule[0](name))
            elif tok in vocabs[k]:
                per_model.append(rows[k][vocabs[k][tok]])
            elif tok in vocabs[base]:
                per_model.append(rows[base][vocabs[base][tok]])
            else:
                have = [rows[j][vocabs[j][tok]] for j in keys if tok in vocabs[j]]
                per_model.append(torch.stack(have).mean(0) if have else torch.zeros(rows[k].shape[1]))
        out.append(torch.stack(per_model).mean(0))
    return tokens, torch.stack(out)


def _linear(worded, keys, base, **extra):
    return {
        "merge_method": "linear",
        "base_model": str(worded[base]),
        "dtype": "float32",
        "models": [{"model": str(worded[k])} for k in keys],
        **extra,
    }


def test_union_realigns_rows_writes_tokenizer_and_loads(worded, tmp_path):
    import transformers as tf

    out = tmp_path / "union"
    merge(_linear(worded, "abc", "a", tokenizer={"source": "union"}), out, threads=2)
    tokens, expected = _expected_union_linear(worded, "abc", "a", EMB)
    got_vocab = json.loads((out / "tokenizer.json").read_text())
    tok = tf.AutoTokenizer.from_pretrained(out)
    assert {t: tok.convert_tokens_to_ids(t) for t in tokens} == {t: i for i, t in enumerate(tokens)}
    assert [a["content"] for a in got_vocab["added_tokens"] if not a["special"]] == ["dog", "log", "a", "ran", "far"]
    torch.testing.assert_close(_rows(out), expected, rtol=0, atol=1e-6)
    _, expected_head = _expected_union_linear(worded, "abc", "a", HEAD)
    torch.testing.assert_close(_rows(out, HEAD), expected_head, rtol=0, atol=1e-6)
    assert json.loads((out / "config.json").read_text())["vocab_size"] == len(tokens) == 12
    model = tf.AutoModelForCausalLM.from_pretrained(out).eval()
    ids = tok("the dog ran far on log", return_tensors="pt").input_ids
    assert ids.max() < 12 and (ids != tok.unk_token_id).all()
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all()


def test_tokens_overrides_and_padding(worded, tmp_path):
    out = tmp_path / "pad"
    tokens_cfg = {
        "dog": {"source": str(worded["c"])},
        "ran": {"source": {"kind": "zero"}},
        "log": {"source": {"kind": "model_token", "model": str(worded["a"]), "token": "cat"}, "force": True},
        "zebra": {"source": {"kind": "zero"}},
    }
    tokenizer = {"source": "union", "pad_to_multiple_of": 8, "tokens": tokens_cfg}
    merge(_linear(worded, "abc", "a", tokenizer=tokenizer), out, threads=1)
    va, vc = _vocab("a"), _vocab("c")
    rules = {
        "dog": (lambda n: _rows(worded["c"], n)[vc["dog"]], False),
        "ran": (lambda n: torch.zeros(32), False),
        "log": (lambda n: _rows(worded["a"], n)[va["cat"]], True),
        "zebra": (lambda n: torch.zeros(32), False),
    }
    order = [*SPECIALS, *WORDS["a"], "dog", "log", "a", "ran", "far", "zebra"]
    _, expected = _expected_union_linear(worded, "abc", "a", EMB, rules, order)
    got = _rows(out)
    assert got.shape == (16, 32)
    torch.testing.assert_close(got[:13], expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(got[13:], expected.mean(0).expand(3, -1), rtol=0, atol=1e-6)  # padding: the mean row
    assert json.loads((out / "config.json").read_text())["vocab_size"] == 16


def test_named_tokenizer_source_and_base(worded, tmp_path):
    out = tmp_path / "ctok"
    merge(_linear(worded, "ab", "a", tokenizer_source=str(worded["c"])), out, threads=1)
    va, vb, vc = _vocab("a"), _vocab("b"), _vocab("c")
    ea, eb, got = _rows(worded["a"]), _rows(worded["b"]), _rows(out)
    assert got.shape[0] == len(vc)
    for tok, i in vc.items():
        ra = ea[va[tok]] if tok in va else (eb[vb[tok]] if tok in vb else torch.zeros(32))
        rb = eb[vb[tok]] if tok in vb else (ea[va[tok]] if tok in va else torch.zeros(32))
        torch.testing.assert_close(got[i], (ra + rb) / 2, rtol=0, atol=1e-6)
    assert json.loads((out / "tokenizer.json").read_text())["model"]["vocab"] == vc

    out2 = tmp_path / "basetok"
    merge({**_linear(worded, "ba", "b"), "base_model": None, "tokenizer_source": "base"}, out2, threads=1)
    got = _rows(out2)
    for tok, i in vb.items():
        ra = ea[va[tok]] if tok in va else eb[vb[tok]]
        torch.testing.assert_close(got[i], (eb[i] + ra) / 2, rtol=0, atol=1e-6)


def test_tied_embeddings(worded, tmp_path):
    import transformers as tf

    out = tmp_path / "tied"
    merge(_linear(worded, ["ta", "tb"], "ta", tokenizer={"source": "union"}), out, threads=1)
    got = load_file(out / "model.safetensors")
    assert HEAD not in got
    va, vb = _vocab("a"), _vocab("b")
    ea, eb = _rows(worded["ta"]), _rows(worded["tb"])
    union = list(dict.fromkeys([*va, *vb]))
    for i, tok in enumerate(union):
        ra = ea[va[tok]] if tok in va else eb[vb[tok]]
        rb = eb[vb[tok]] if tok in vb else ea[va[tok]]
        torch.testing.assert_close(got[EMB][i], (ra + rb) / 2, rtol=0, atol=1e-6)
    model = tf.AutoModelForCausalLM.from_pretrained(out)
    assert model.lm_head.weight.shape[0] == len(union) and model.config.tie_word_embeddings
    assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)


def test_untied_base_with_a_tied_model_uses_its_embedding_as_head(worded, tmp_path):
    out = tmp_path / "mixed"
    merge(_linear(worded, ["a", "tb"], "a", tokenizer={"source": "union"}), out, threads=1)
    va, vb = _vocab("a"), _vocab("b")
    ha, eb = _rows(worded["a"], HEAD), _rows(worded["tb"])
    got = _rows(out, HEAD)
    for i, tok in enumerate(dict.fromkeys([*va, *vb])):
        ra = ha[va[tok]] if tok in va else eb[vb[tok]]
        rb = eb[vb[tok]] if tok in vb else ha[va[tok]]
        torch.testing.assert_close(got[i], (ra + rb) / 2, rtol=0, atol=1e-6)


def test_vocabulary_mismatch_is_a_plan_error_before_any_read(worded, tmp_path):
    with mock.patch.object(Checkpoint, "read", side_effect=AssertionError("a tensor was read")):
        with pytest.raises(PlanError) as e:
            merge(_linear(worded, "ab", "a"), tmp_path / "x")
        assert "different numbers of rows" in str(e.value) and "tokenizer: {source: union}" in str(e.value)
        with pytest.raises(PlanError) as e:  # same row count, different token ids
            merge(_linear(worded, "af", "a"), tmp_path / "x")
        assert "token 'the' has id 2" in str(e.value) and "tokenizer_source: base" in str(e.value)
        with pytest.raises(PlanError) as e:
            bad = {"far": {"source": str(worded["b"])}, "ran": {"source": {"kind": "nope"}}}
            merge(_linear(worded, "ab", "a", tokenizer={"source": "union", "tokens": bad}), tmp_path / "x")
        assert "has no token 'far'" in str(e.value) and "unknown source" in str(e.value)
    assert not (tmp_path / "x").exists()


def test_multistage_union_then_union(worded, tmp_path):
    """Stage 2 is planned against stage 1's planned vocabulary, then merged from the cached stage 1 output."""
    stage1 = {**_linear(worded, "ab", "a", tokenizer={"source": "union"}), "name": "ab"}
    stage2 = {**_linear(worded, "c", "a", tokenizer={"source": "union"}), "base_model": "ab"}
    stage2["models"] = [{"model": "ab"}, {"model": str(worded["c"])}]
    import yaml

    text = yaml.safe_dump(stage1) + "---\n" + yaml.safe_dump(stage2)
    out = tmp_path / "two"
    merge(text, out, cache_dir=tmp_path / "cache", threads=1)
    ab = next((tmp_path / "cache" / "stages").iterdir())
    tokens1, rows1 = _expected_union_linear(worded, "ab", "a", EMB)
    torch.testing.assert_close(_rows(ab), rows1, rtol=0, atol=1e-6)
    vc = _vocab("c")
    ec = _rows(worded["c"])
    v1 = {t: i for i, t in enumerate(tokens1)}
    final = json.loads((out / "tokenizer.json").read_text())
    ids = dict(final["model"]["vocab"]) | {a["content"]: a["id"] for a in final["added_tokens"]}
    assert sorted(ids, key=ids.get) == [*tokens1, "ran", "far"]
    got = _rows(out)
    for tok, i in ids.items():
        r1 = rows1[v1[tok]] if tok in v1 else ec[vc[tok]]
        rc = ec[vc[tok]] if tok in vc else rows1[v1[tok]]
        torch.testing.assert_close(got[i], (r1 + rc) / 2, rtol=0, atol=1e-6)


def test_other_per_token_tensors_are_realigned(worded, tmp_path):
    """An LM-head bias (one entry per token) is realigned with the same rules as the embedding rows."""
    from safetensors.torch import save_file

    folders = {}
    for k in "ab":
        folder = tmp_path / k
        shutil.copytree(worded[k], folder)
        sd = load_file(folder / "model.safetensors")
        sd["lm_head.bias"] = torch.arange(len(_vocab(k)), dtype=torch.float32) * (10 if k == "a" else 100)
        save_file(sd, folder / "model.safetensors", metadata={"format": "pt"})
        folders[k] = folder
    out = tmp_path / "out"
    merge(_linear(folders, "ab", "a", tokenizer={"source": "union"}), out, threads=1)
    va, vb = _vocab("a"), _vocab("b")
    union = list(dict.fromkeys([*va, *vb]))
    expected = []
    for tok in union:
        ra = 10.0 * va[tok] if tok in va else 100.0 * vb[tok]
        rb = 100.0 * vb[tok] if tok in vb else 10.0 * va[tok]
        expected.append((ra + rb) / 2)
    torch.testing.assert_close(_rows(out, "lm_head.bias"), torch.tensor(expected), rtol=0, atol=1e-5)


def test_read_vocab_formats_and_errors(tmp_path):
    from modelfusion.checkpoint.tokenizer_files import read_vocab
    from modelfusion.errors import CheckpointError

    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    assert read_vocab(tmp_path / "bert").ids == {"[PAD]": 0, "[UNK]": 1, "hello": 2}
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "vocab.json").write_text(json.dumps({"a": 1, "b": 0}))
    assert read_vocab(tmp_path / "gpt2").ids == {"a": 1, "b": 0}
    (tmp_path / "none").mkdir()
    assert read_vocab(tmp_path / "none") is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read the tokenizer") as e:
        read_vocab(tmp_path / "bad")
    assert str(tmp_path / "bad") in str(e.value)
