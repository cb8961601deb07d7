"""Vocabulary alignment (`tokenizer_source`, `tokenizer: {source, tokens, pad_to_multiple_of}`; mergekit semantics).

The output vocabulary V is the base model's (`base`), a named model's (`<model>`), or the union (`union`: the
base's tokens with their ids, then every other model's missing tokens in model order, each model's in id order),
plus tokens named under `tokens:`, padded to a multiple of `pad_to_multiple_of` rows.

Each merged model m sees its embedding E_m (and LM head) realigned to V, row by row, for token t:
  - a `tokens:` entry with `force: true`: that entry's row, for every model;
  - m has t: E_m[id_m(t)];
  - a `tokens:` entry: its row (`source: <model>`: that model's row of t; `{kind: zero}`: 0;
    `{kind: model_token, model, token | token_id}`: that model's row of that token);
  - else the base model has t: E_base[id_base(t)]; else exactly one merged model has t: its row;
    else the mean of the rows of the models that have t (0 if none);
  - padding rows (beyond |V|): the mean of the realigned rows.
The realignment is carried by each job input (`InputRef.realign`) and applied as the tensor is read, so merge
methods stay pure and see tensors of one shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from modelfusion.checkpoint import Checkpoint, TensorInfo
from modelfusion.checkpoint.tokenizer_files import Vocab, read_vocab
from modelfusion.plan.job import InputRef, Job
from modelfusion.plan.naming import is_pre_layer, layer_index
from modelfusion.plan.problems import Problems
from modelfusion.plan.realign import Realign, Row, compile_rows
from modelfusion.plan.sources import SliceSpec
from modelfusion.recipe.schema import Recipe


@dataclass
class VocabPlan:
    ids: dict[str, int]
    """Output token -> id."""
    size: int
    """Output rows (vocab_size), padding included."""
    source: str
    """The model whose tokenizer files are the starting point of the merged tokenizer."""
    added: list[tuple[str, bool]]
    """Tokens appended to that tokenizer: (content, special)."""
    roles: dict[str, str] = field(default_factory=dict)
    """Reference tensor name -> 'embed' or 'head'."""
    realign: dict[tuple[str, str], Realign] = field(default_factory=dict)
    """(model, role) -> its realignment."""
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    """(model, role) -> that model's tensor for the role (a tied model's LM head is its embedding)."""


def merged_models(recipe: Recipe, slices: list[SliceSpec]) -> list[str]:
    """The models whose tensors are merged (base first), not those only named as a tokenizer source."""
    names = ([recipe.base_model] if recipe.base_model else []) + [s.model for sl in slices for s in sl.sources]
    names += [sl.base_model for sl in slices if sl.base_model]
    return list(dict.fromkeys(names))


def realign_job(job: Job, plan: VocabPlan) -> Job:
    """A vocabulary tensor's job with each input realigned to the output vocabulary (others unchanged)."""
    role = plan.roles.get(job.out.name)
    if role is None:
        return job

    def ref(r: InputRef) -> InputRef:
        return InputRef(r.model, plan.names[(r.model, role)], plan.realign[(r.model, role)])

    out = TensorInfo(job.out.name, (plan.size, *job.out.shape[1:]), job.out.dtype, job.out.file)
    return replace(job, out=out, inputs=[ref(r) for r in job.inputs], base=ref(job.base) if job.base else None)


def with_vocab_size(config: dict | None, plan: VocabPlan | None) -> dict | None:
    """config.json of the output with `vocab_size` set to the merged vocabulary's row count."""
    if config is None or plan is None:
        return config
    return {**config, "vocab_size": plan.size}


def checkpoint_vocab(ckpt: Checkpoint) -> Vocab | None:
    """A checkpoint's vocabulary: a planned stage output's `planned_vocab`, else read from its folder."""
    return ckpt.planned_vocab if ckpt.planned_vocab is not None else read_vocab(ckpt.folder)


def vocab_tensors(ckpt: Checkpoint) -> dict[str, str]:
    """role -> tensor name: 'embed' (pre-layer, rows = vocab), 'head' (the LM head; the embedding if tied), and
    'rows:<name>' for other tensors outside the layer stack with one row per token (e.g. an LM-head bias)."""
    infos = ckpt.infos
    candidates = [i for n, i in infos.items() if layer_index(n) is None and len(i.shape) == 2]
    embeds = [i for i in candidates if is_pre_layer(i.name) and "position" not in i.name and "wpe" not in i.name]
    if not embeds:
        return {}
    embed = max(embeds, key=lambda i: (i.shape[0], -i.name.count(".")))
    heads = [i for i in candidates if not is_pre_layer(i.name) and i.shape == embed.shape]
    out = {"embed": embed.name}
    if heads:
        out["head"] = heads[0].name
    elif (ckpt.config or {}).get("tie_word_embeddings", True):
        out["head"] = embed.name
    for name, info in infos.items():  # other tensors with one entry per token (an LM head's bias, ...)
        outside = layer_index(name) is None and not is_pre_layer(name) and name not in out.values()
        if outside and 1 <= len(info.shape) <= 2 and info.shape[0] == embed.shape[0]:
            out[f"rows:{name}"] = name
    return out


def _rows(info: TensorInfo) -> int:
    return info.shape[0]


def mismatch_problems(recipe: Recipe, ckpts: Mapping[str, Checkpoint], models: list[str]) -> list[str]:
    """Without a tokenizer setting: embeddings of different sizes, or a token with different ids, is an error."""
    fix = "add `tokenizer: {source: union}` (or `tokenizer_source: base`) to the recipe to align the vocabularies"
    rows = {}
    for m in models:
        roles = vocab_tensors(ckpts[m])
        if "embed" in roles:
            rows[m] = _rows(ckpts[m].infos[roles["embed"]])
    if len(set(rows.values())) > 1:
        sizes = ", ".join(f"{m}: {n}" for m, n in rows.items())
        return [f"vocabulary mismatch: the embeddings have different numbers of rows ({sizes}); {fix}"]
    vocabs = {m: v for m in models if (v := checkpoint_vocab(ckpts[m])) is not None}
    for m, v in vocabs.items():
        for tok, i in sorted(v.ids.items(), key=lambda kv: kv[1]):  # report the lowest conflicting id
            for other, w in vocabs.items():
                j = w.ids.get(tok)
                if j is not None and j != i:
                    return [
                        f"vocabulary mismatch: token {tok!r} has id {i} in {m} but {j} in {other} "
                        f"(the tokenizers differ, so embedding rows do not line up); {fix}"
                    ]
    return []


def _token_rule(name: str, cfg: object, ckpts, vocabs, problems: Problems) -> tuple[object, bool] | None:
    """A `tokens:` entry as (rule, force): rule is a Row, 'zero', or ('model', m) for model m's row of the token."""
    where = f"tokenizer.tokens.{name}"
    if not isinstance(cfg, Mapping) or "source" not in cfg or set(cfg) - {"source", "force"}:
        problems.add(f"{where}: give {{source: <model> | {{kind: zero}} | {{kind: model_token, ...}}, force: bool}}")
        return None
    force = bool(cfg.get("force", False))
    src = cfg["source"]
    if isinstance(src, str):
        if src not in ckpts or vocabs.get(src) is None or name not in vocabs[src].ids:
            problems.add(f"{where}: model {src} has no token {name!r}")
            return None
        return ("model", src), force
    if isinstance(src, Mapping) and src.get("kind") == "zero":
        return "zero", force
    if isinstance(src, Mapping) and src.get("kind") == "model_token":
        model, tok, tid = src.get("model"), src.get("token"), src.get("token_id")
        v = vocabs.get(model)
        if model not in ckpts or v is None:
            problems.add(f"{where}: unknown model {model!r} (or it has no tokenizer)")
            return None
        idx = v.ids.get(tok) if tok is not None else tid
        if not isinstance(idx, int):
            problems.add(f"{where}: model {model} has no token {tok!r}" if tok is not None else f"{where}: give token")
            return None
        embed = vocab_tensors(ckpts[model]).get("embed")
        rows = _rows(ckpts[model].infos[embed]) if embed else None
        if rows is not None and not 0 <= idx < rows:
            problems.add(f"{where}: token id {idx} is out of range for model {model} ({rows} embedding rows)")
            return None
        return (model, idx), force
    problems.add(f"{where}: unknown source {src!r} (a model, {{kind: zero}} or {{kind: model_token}})")
    return None


def _out_vocab(source: str, ref: str, models: list[str], vocabs: dict[str, Vocab], extra: list[str]):
    if source == "union":
        ids = dict(vocabs[ref].ids)
        added = []
        for m in models:
            for tok, _ in sorted(vocabs[m].ids.items(), key=lambda kv: kv[1]):
                if tok not in ids:
                    ids[tok] = len(ids)
                    added.append((tok, tok in vocabs[m].special))
        base = ref
    else:
        base = ref if source == "base" else source
        ids, added = dict(vocabs[base].ids), []
    for tok in extra:
        if tok not in ids:
            ids[tok] = len(ids)
            added.append((tok, False))
    return ids, base, added


def plan_vocab(
    recipe: Recipe, ckpts: Mapping[str, Checkpoint], reference: str, models: list[str], problems: Problems
) -> VocabPlan | None:
    """The vocabulary plan of a recipe, or None without a tokenizer setting (then mismatches are problems)."""
    tok = recipe.tokenizer
    if recipe.tokenizer_source is not None and tok is not None:
        problems.add("give either `tokenizer_source` or `tokenizer`, not both")
        return None
    if recipe.tokenizer_source is None and tok is None:
        for p in mismatch_problems(recipe, ckpts, models):
            problems.add(p)
        return None
    source = recipe.tokenizer_source if tok is None else tok.source
    if source not in ("base", "union") and source not in ckpts:
        problems.add(f"tokenizer source {source!r} is not 'base', 'union' or a model of the recipe")
        return None
    needed = list(dict.fromkeys([*models, reference] + ([] if source in ("base", "union") else [source])))
    vocabs = {m: checkpoint_vocab(ckpts[m]) for m in ckpts}
    lacking = [m for m in needed if vocabs.get(m) is None]
    if lacking:
        problems.add(f"tokenizer settings need each model's tokenizer files; none found in {', '.join(lacking)}")
        return None
    trimmed = _trim_to_rows(vocabs, ckpts, problems)
    rules: dict[str, tuple[object, bool]] = {}
    for name, cfg in ((tok.tokens or {}) if tok else {}).items():
        rule = _token_rule(name, cfg, ckpts, vocabs, problems)
        if rule is not None:
            rules[name] = rule
    ids, base_tok, added = _out_vocab(source, reference, models, vocabs, list(rules))
    if sorted(ids.values()) != list(range(len(ids))):
        problems.add(f"the tokenizer of {base_tok} has non-contiguous token ids; cannot build the merged vocabulary")
        return None
    pad = tok.pad_to_multiple_of if tok else None
    if pad is not None and pad < 1:
        problems.add(f"tokenizer.pad_to_multiple_of must be a positive integer, got {pad}")
        pad = None
    if base_tok in trimmed and added:
        problems.add(
            f"the tokenizer of {base_tok} has tokens beyond its embedding rows; modelfusion cannot append the "
            f"merged vocabulary's other tokens to it (mergekit rewrites such BPE tokenizers): trim its tokenizer"
        )
        return None
    size = math.ceil(len(ids) / pad) * pad if pad else len(ids)
    plan = VocabPlan(ids, size, base_tok, added)
    ref_roles = vocab_tensors(ckpts[reference])
    for role, name in ref_roles.items():
        if role == "embed" or name != ref_roles["embed"]:
            plan.roles[name] = role
    tensors = {m: vocab_tensors(ckpts[m]) for m in ckpts}
    missing_roles = {m: sorted(set(ref_roles) - set(tensors[m])) for m in models if set(ref_roles) - set(tensors[m])}
    if missing_roles:
        for m, roles in missing_roles.items():
            problems.add(f"model {m} has no vocabulary tensor(s) {roles} to align (the reference {reference} has)")
        return None
    width = ckpts[reference].infos[ref_roles["embed"]].shape[1:]
    for m in models:
        other = ckpts[m].infos[tensors[m]["embed"]].shape[1:]
        if other != width:
            problems.add(f"embedding of {m} is {list(other)} wide but {list(width)} in {reference}")
    plan.names = {(m, role): name for m, roles in tensors.items() for role, name in roles.items()}
    base = recipe.base_model if recipe.base_model in models else None
    for m in models:
        rows = _rows_for(m, ids, models, vocabs, rules, base)
        for role in ref_roles:
            names = {k: t[role] for k, t in tensors.items() if role in t}
            plan.realign[(m, role)] = compile_rows(rows, size, len(ids), names)
    return plan


def _trim_to_rows(vocabs: dict[str, Vocab | None], ckpts: Mapping[str, Checkpoint], problems: Problems) -> set[str]:
    """Leave out of each model's vocabulary the tokens whose id is beyond its embedding's rows (a tokenizer
    larger than the embedding), as mergekit does, with a warning; returns the models trimmed."""
    trimmed = set()
    for m, vocab in vocabs.items():
        embed = vocab_tensors(ckpts[m]).get("embed")
        if vocab is None or embed is None:
            continue
        rows = _rows(ckpts[m].infos[embed])
        beyond = sorted((i, t) for t, i in vocab.ids.items() if i >= rows)
        if not beyond:
            continue
        trimmed.add(m)
        vocabs[m] = Vocab({t: i for t, i in vocab.ids.items() if i < rows}, vocab.special)
        shown = ", ".join(repr(t) for _, t in beyond[:3]) + (", ..." if len(beyond) > 3 else "")
        problems.warn(
            f"the tokenizer of {m} has {len(beyond)} token(s) with ids beyond its {rows} embedding rows ({shown}): "
            "left out of the merged vocabulary, as mergekit does"
        )
    return trimmed


def _rows_for(m, ids, models, vocabs, rules, base) -> list[list[Row]]:
    """For each output row: the input rows averaged to make it (one for a copy, none for zero)."""
    out: list[list[Row]] = []
    for tok in sorted(ids, key=ids.__getitem__):
        rule = rules.get(tok)
        own = vocabs[m].ids.get(tok)
        if rule is not None and (rule[1] or own is None):
            r = rule[0]
            out.append([] if r == "zero" else [(r[1], vocabs[r[1]].ids[tok])] if r[0] == "model" else [r])
        elif own is not None:
            out.append([(m, own)])
        elif base is not None and tok in vocabs[base].ids:
            out.append([(base, vocabs[base].ids[tok])])
        else:
            out.append([(k, vocabs[k].ids[tok]) for k in models if tok in vocabs[k].ids])
    return out
