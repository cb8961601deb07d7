"""mergekit 0.1.5's tokenizer and chat-template tests (its tests/test_tokenizer.py, tests/test_chat_template.py)
as recipes through both tools, on its pico Llamas (tests/common.py `make_picollama`: vocab 64 or 66, 2 layers)
with its BPE tokenizers (`make_tokenizer`: `<unk>`, `<s>`, `</s>`, `_tok_3`..`_tok_63`, then added tokens):

- `tok_base`: 64 rows, 64 tokens;
- `tok_chatml`: 66 rows, 64 tokens + `<|im_start|>`, `<|im_end|>`;
- `tok_padded`: 64 rows, 64 tokens + `<UNUSED_0>`..`<UNUSED_3>` (a tokenizer larger than its embedding);
- `tok_notok`: 64 rows and no tokenizer (test_chat_template's `model_b`).

Each output is compared with mergekit's: every tensor, config.json's `vocab_size`, the tokenizer's vocabulary and
added tokens (as transformers loads them) and the chat template (by what it renders). Plus LARGER, the case left
open: a union whose base tokenizer is larger than its embedding.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import torch
import yaml

W = {"parameters": {"weight": 1.0}}
"""mergekit's tests give every model weight 1.0 (also for slerp, which ignores it)."""


def _models(*names: str) -> list[dict]:
    return [{"model": n, **W} for n in names]


def _recipe(models: list[str], method: str = "linear", **extra) -> dict:
    return {"merge_method": method, "base_model": models[0], "models": _models(*models), "dtype": "float32", **extra}


THREE = ["tok_base", "tok_padded", "tok_chatml"]
TOKENIZER = {
    "tok_legacy": _recipe(THREE),
    "tok_source_base": _recipe(THREE, tokenizer_source="base"),
    "tok_source_union": _recipe(THREE, tokenizer_source="union"),
    "tok_source_model": _recipe(THREE, tokenizer_source="tok_chatml"),
    "tok_slerp_union": _recipe(["tok_base", "tok_chatml"], "slerp", tokenizer_source="union", parameters={"t": 0.5}),
    "tok_force_token": _recipe(
        ["tok_base", "tok_chatml"],
        tokenizer={
            "source": "union",
            "tokens": {
                "_tok_10": {"source": "tok_chatml", "force": True},
                "_tok_11": {"source": "tok_base", "force": True},
            },
        },
    ),
    "tok_model_token_id": _recipe(
        ["tok_base", "tok_chatml"],
        tokenizer={
            "source": "base",
            "tokens": {
                "_tok_20": {"source": {"kind": "model_token", "model": "tok_chatml", "token_id": 64}, "force": True},
                "_tok_21": {"source": {"kind": "model_token", "model": "tok_base", "token": "<s>"}, "force": True},
            },
        },
    ),
    "tok_pad_to_multiple_of": _recipe(["tok_chatml"], tokenizer={"source": "base", "pad_to_multiple_of": 16}),
}
"""tests/test_tokenizer.py's TestTokenizerMerges cases (models in its order, base first)."""

_CHAT = {
    "models": [
        {"model": "tok_base", "parameters": {"weight": 0.5}},
        {"model": "tok_notok", "parameters": {"weight": 0.5}},
    ]
}
LONG = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}{# " + "x" * 300 + " #}"
)
CHAT = {
    f"chat_{name}": {
        "merge_method": "linear",
        **_CHAT,
        "base_model": "tok_base",
        "dtype": "bfloat16",
        "chat_template": t,
    }
    for name, t in (("chatml", "chatml"), ("literal_jinja", "{{messages[0]['content']}}"), ("long_literal_jinja", LONG))
}
"""tests/test_chat_template.py's TestChatTemplate cases."""

LARGER = {"tok_union_larger_base": _recipe(["tok_padded", "tok_chatml"], tokenizer_source="union")}
"""Not a mergekit test: union whose base tokenizer has tokens beyond its embedding rows (docs/recipes.md)."""

RECIPES = {**TOKENIZER, **CHAT, **LARGER}


def _picollama(folder: Path, vocab_size: int, seed: int) -> None:
    import transformers as tf

    config = tf.LlamaConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=48, num_attention_heads=16, num_hidden_layers=2
    )
    torch.manual_seed(seed)
    tf.LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)


def _tokenizer(folder: Path, added: list[str]) -> None:
    """mergekit's make_tokenizer(64, added): a BPE vocabulary with no merges, as LlamaTokenizerFast."""
    import transformers as tf
    from tokenizers import Tokenizer

    tokens = ["<unk>", "<s>", "</s>"] + [f"_tok_{i}" for i in range(3, 64)]
    data = {"version": "1.0", "model": {"type": "BPE", "vocab": dict(zip(tokens, range(64))), "merges": []}}
    data["added_tokens"] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokenizer.json"
        Tokenizer.from_str(json.dumps(data)).save(str(path))
        tok = tf.LlamaTokenizerFast(tokenizer_file=str(path))
    tok.add_tokens(added)
    tok.save_pretrained(folder)


def build_tokenizer_models(root: Path) -> dict[str, Path]:
    specs = {
        "tok_base": (64, []),
        "tok_chatml": (66, ["<|im_start|>", "<|im_end|>"]),
        "tok_padded": (64, [f"<UNUSED_{i}>" for i in range(4)]),
        "tok_notok": (64, None),
    }
    paths = {}
    for seed, (name, (rows, added)) in enumerate(specs.items()):
        folder = root / name
        _picollama(folder, rows, seed)
        if added is not None:
            _tokenizer(folder, added)
        paths[name] = folder
    return paths


def tokenizer_facts(folder: Path) -> dict:
    """What transformers loads from an output folder: vocabulary, added tokens, chat template, vocab_size."""
    import transformers as tf

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    facts: dict = {"vocab_size": config.get("vocab_size")}
    try:
        tok = tf.AutoTokenizer.from_pretrained(str(folder))
    except Exception as e:  # a folder without a tokenizer
        return {**facts, "tokenizer": f"none ({type(e).__name__})"}
    facts["vocab"] = dict(sorted(tok.get_vocab().items(), key=lambda kv: kv[1]))
    facts["added"] = sorted(str(t) for t in tok.added_tokens_decoder.values())
    facts["chat_template"] = tok.chat_template
    return facts


def run_mergekit_tokenizers(recipes: dict[str, dict], models: dict[str, Path], out: Path) -> dict[str, Path | str]:
    """Each recipe through mergekit-yaml (tokenizer copied, as by default): name -> output folder, or its error."""
    from tests.parity.harness import MERGEKIT_YAML, with_paths

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    outs: dict[str, Path | str] = {}
    for name, recipe in recipes.items():
        folder = out / name
        if (folder / "done").exists():
            outs[name] = folder / "out"
            continue
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "recipe.yaml"
        config.write_text(yaml.safe_dump(with_paths(recipe, models), sort_keys=False), encoding="utf-8")
        cmd = [str(MERGEKIT_YAML), str(config), str(folder / "out"), "--quiet", "--no-write-model-card"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            outs[name] = (done.stderr.strip().splitlines() or ["?"])[-1]
            continue
        (folder / "done").write_text("", encoding="utf-8")
        outs[name] = folder / "out"
    return outs


MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye"},
]


def _rendered(folder: Path) -> list[str] | None:
    """The chat template applied to MESSAGES (with and without the generation prompt), as transformers renders it."""
    import transformers as tf

    tok = tf.AutoTokenizer.from_pretrained(str(folder))
    if not tok.chat_template:
        return None
    return [tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=g) for g in (False, True)]


def compare_tokenizers(ours: Path, theirs: Path) -> tuple[str, str]:
    """(what differs, a note): vocabulary, added tokens, vocab_size and the chat template; two template texts that
    render the same conversations the same are equal (the note says so)."""
    a, b = tokenizer_facts(ours), tokenizer_facts(theirs)
    note = ""
    texts = a.get("chat_template"), b.get("chat_template")
    if texts[0] != texts[1] and all(texts) and _rendered(ours) == _rendered(theirs):
        a["chat_template"] = b["chat_template"]
        note = "chat template: another text, the same rendering"
    keys = sorted(set(a) | set(b))
    return "; ".join(
        f"{k}: {_short(a.get(k))} vs mergekit {_short(b.get(k))}" for k in keys if a.get(k) != b.get(k)
    ), note


def scale_ulps(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> float:
    """max |ours - theirs| in ulps of each tensor's largest magnitude (rounding noise near zero entries shows as
    many ulps of the entry itself, not of the tensor)."""
    worst = 0.0
    for k, t in theirs.items():
        scale = float(t.double().abs().max()) * torch.finfo(t.dtype).eps
        worst = max(worst, float((ours[k].double() - t.double()).abs().max()) / scale if scale else 0.0)
    return worst


def _short(value: object) -> str:
    if isinstance(value, dict):
        return f"{len(value)} tokens"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def measure_tokenizers(work: Path) -> dict[str, dict]:
    """One tally row per recipe (tests/parity/tally.py's outcomes; the tokenizer compared besides the tensors)."""
    from tests.parity.harness import load_folder
    from tests.parity.tally import _run_ours, compare

    models = build_tokenizer_models(work / "models")
    theirs = run_mergekit_tokenizers(RECIPES, models, work / "mergekit")
    rows: dict[str, dict] = {}
    for name, recipe in RECIPES.items():
        refused = _run_ours(recipe, models, work / "modelfusion" / name)
        mk = theirs[name]
        if refused and isinstance(mk, str):
            rows[name] = {"outcome": "both refuse", "detail": f"modelfusion: {refused}; mergekit: {mk}"}
        elif refused:
            rows[name] = {"outcome": "modelfusion refuses", "detail": refused}
        elif isinstance(mk, str):
            rows[name] = {"outcome": "mergekit refuses", "detail": mk}
        else:
            ours = work / "modelfusion" / name
            a, b = load_folder(ours), load_folder(mk)
            outcome, detail = compare(name, a, b)
            tok, note = compare_tokenizers(ours, mk)
            if tok:
                outcome, detail = "differs", f"tokenizer: {tok}; tensors: {outcome} {detail}".strip()
            rows[name] = {"outcome": outcome, "detail": "; ".join(x for x in (note, detail) if x)}
            if outcome == "differs" and not tok and set(a) == set(b):
                rows[name]["ulps_of_tensor_max"] = scale_ulps(a, b)
                rows[name]["detail"] += f"; <= {scale_ulps(a, b):.2f} ulp of each tensor's largest magnitude"
    return rows
