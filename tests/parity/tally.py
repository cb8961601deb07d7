"""The upstream-recipe tally of docs/recipes.md: every recipe of tests/parity/upstream.py (and upstream_arch.py,
upstream_tokenizer.py) through mergekit 0.1.5 and modelfusion on the parity suite's tiny models.

    .venv/bin/python -m tests.parity.tally [work_dir] [--json out.json]

Outcomes per recipe:
- `identical`: every tensor bit for bit;
- `rounding`: every tensor within 1 unit in the last place of the output dtype (bf16/fp16 recipes: modelfusion
  computes in float32 and rounds once, mergekit rounds intermediate results);
- `float32 compute`: not within 1 ulp of mergekit's bf16/fp16 computation, but within 1 ulp of mergekit's
  float32 computation on the same inputs rounded to the recipe's dtype (the deliberate difference: modelfusion
  computes in float32 and rounds once, mergekit rounds every intermediate result);
- `random`: a recipe drawing random masks (different draws): same tensor names, shapes and dtypes;
- `both refuse`: mergekit and modelfusion both refuse the recipe;
- `differs` / `modelfusion refuses` / `mergekit refuses`: a difference, listed with its reason in docs/recipes.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
import yaml

from tests.parity.arch_models import build_arch_models
from tests.parity.harness import MERGEKIT_YAML, build_models, load_folder, run_mergekit, with_paths
from tests.parity.upstream import REFUSED, as_float32
from tests.parity.upstream_arch import VLM, every, vlm_outcome

UPSTREAM, RANDOM = every()

MATCHING = ("identical", "rounding", "float32 compute", "random", "both refuse")


def _ulps(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """max |ours - theirs| in ulps of the output dtype (of the larger of the two values)."""
    a, b = ours.double(), theirs.double()
    info = torch.finfo(theirs.dtype)
    scale = torch.maximum(a.abs(), b.abs()).clamp_min(info.tiny)
    ulp = torch.pow(2.0, torch.floor(torch.log2(scale))) * info.eps
    return float(((a - b).abs() / ulp).max()) if a.numel() else 0.0


def compare(name: str, ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> tuple[str, str]:
    """(outcome, detail) of one recipe whose outputs both exist."""
    if set(ours) != set(theirs):
        return "differs", f"tensor names differ: {sorted(set(ours) ^ set(theirs))[:4]}"
    for k in theirs:
        if ours[k].shape != theirs[k].shape or ours[k].dtype != theirs[k].dtype:
            return "differs", f"{k}: {list(ours[k].shape)} {ours[k].dtype} vs {list(theirs[k].shape)} {theirs[k].dtype}"
    if name in RANDOM:
        return "random", "names, shapes and dtypes equal"
    if all(torch.equal(ours[k], theirs[k]) for k in theirs):
        return "identical", ""
    worst = max(theirs, key=lambda k: _ulps(ours[k], theirs[k]))
    ulps = _ulps(ours[worst], theirs[worst])
    diff = float((ours[worst].double() - theirs[worst].double()).abs().max())
    detail = f"max {ulps:.3g} ulp ({diff:.2e}) at {worst}"
    return ("rounding" if ulps <= 1.0 else "differs"), detail


def differing_fraction(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> float:
    """Fraction of entries that differ once mergekit's output is cast to modelfusion's dtype."""
    differ = sum(int((ours[k] != theirs[k].to(ours[k].dtype)).sum()) for k in theirs)
    return differ / sum(t.numel() for t in theirs.values())


def _mergekit_refuses(recipe: dict, models: dict[str, Path], work: Path) -> str | None:
    """mergekit-yaml's error (last line), or None when it merges."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "recipe.yaml"
    config.write_text(yaml.safe_dump(with_paths(recipe, models), sort_keys=False), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [str(MERGEKIT_YAML), str(config), str(work / "out"), "--quiet", "--no-copy-tokenizer"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def _run_ours(recipe: dict | list, models: dict[str, Path], out: Path) -> str | None:
    """modelfusion's one-line refusal, or None when it merges into `out`."""
    from modelfusion import merge
    from modelfusion.errors import ModelFusionError, RecipeWarning

    data = with_paths(recipe, models) if isinstance(recipe, dict) else None
    if isinstance(recipe, list):
        data = yaml.safe_dump_all([with_paths(r, models) for r in recipe], sort_keys=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecipeWarning)  # mergekit's tests give every model a weight
            merge(data, out, threads=1, overwrite=True, cache_dir=out.parent / "cache")
    except ModelFusionError as e:
        return str(e).splitlines()[0]
    return None


def _stages(recipes: dict[str, dict | list]) -> dict[str, dict]:
    """Multi-stage recipes flattened into mergekit-multi stages (their inner names kept, the last one named after
    the recipe)."""
    flat: dict[str, dict] = {}
    for name, recipe in recipes.items():
        if isinstance(recipe, list):
            for stage in recipe[:-1]:
                flat[f"@{stage['name']}"] = {k: v for k, v in stage.items() if k != "name"}
            recipe = recipe[-1]
        flat[name] = recipe
    return flat


def measure(work: Path) -> dict[str, dict]:
    models = {**build_models(work / "models"), **build_arch_models(work / "models")}
    runnable = {n: r for n, r in UPSTREAM.items() if n not in REFUSED}
    references = {f"{n}@f32": as_float32(r) for n, r in runnable.items() if as_float32(r) is not r}
    theirs = _run_mergekit_named(_stages({**runnable, **references}), models, work / "mergekit")
    rows: dict[str, dict] = {}
    for name, recipe in UPSTREAM.items():
        note = ""
        refused = _run_ours(recipe, models, work / "modelfusion" / name)
        mk_refused = _mergekit_refuses(recipe, models, work / "mk_refused" / name) if name in REFUSED else None
        if name in REFUSED:
            outcome = "both refuse" if refused and mk_refused else "differs"
            detail = f"modelfusion: {refused}; mergekit: {mk_refused}"
        elif refused:
            outcome, detail = "modelfusion refuses", refused
        else:
            ours = load_folder(work / "modelfusion" / name)
            outputs = {k: load_folder(theirs[k]) for k in (name, f"{name}@f32") if k in theirs}
            if name in VLM:  # mergekit leaves the language model out: compare what it writes, and say so
                for k in outputs:
                    outputs[k], note = vlm_outcome(ours, outputs[k])
                ours = {k: ours[k] for k in outputs[name]} if note else ours
            outcome, detail = compare(name, ours, outputs[name])
            if outcome == "differs" and f"{name}@f32" in outputs:
                reference = outputs[f"{name}@f32"]
                ref, ref_detail = compare(name, ours, reference)
                if ref in ("identical", "rounding"):
                    outcome = "float32 compute"
                    detail = f"vs mergekit in float32 on the same rounded inputs: {ref} {ref_detail}; vs its {detail}"
                else:
                    fraction = differing_fraction(ours, reference)
                    detail = f"{fraction:.2%} of entries differ from mergekit's float32 computation ({ref_detail})"
                    detail = f"{note}; of the tensors it writes, {detail}" if note else detail
                    rows[name] = {"outcome": outcome, "detail": detail, "differing_fraction_vs_f32": fraction}
                    continue
            if note:
                outcome, detail = "differs", f"{note}; the tensors it writes: {outcome} {detail}".strip()
        rows[name] = {"outcome": outcome, "detail": detail}
    from tests.parity.upstream_tokenizer import measure_tokenizers

    rows.update(measure_tokenizers(work / "tokenizers"))  # mergekit's tokenizer and chat-template tests
    return rows


def _run_mergekit_named(flat: dict[str, dict], models: dict[str, Path], out: Path) -> dict[str, Path]:
    """run_mergekit, except that inner stages (`@name`) keep their own names (later stages refer to them)."""
    inner = {n[1:]: r for n, r in flat.items() if n.startswith("@")}
    outer = {n: r for n, r in flat.items() if not n.startswith("@")}
    named = {**{f"__inner__{n}": {"name": n, **r} for n, r in inner.items()}, **outer}
    done = out / "done.json"
    if done.exists():  # a rerun in the same work folder reuses mergekit's outputs
        return {k: Path(v) for k, v in json.loads(done.read_text(encoding="utf-8")).items()}
    outs = run_mergekit(named, models, out)
    done.write_text(json.dumps({k: str(v) for k, v in outs.items()}), encoding="utf-8")
    return outs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", nargs="?")
    parser.add_argument("--json")
    args = parser.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="mf-upstream-"))
    rows = measure(work)
    print("| recipe | outcome | detail |")
    print("|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['outcome']} | {row['detail']} |")
    same = sum(row["outcome"] in MATCHING for row in rows.values())
    print(f"\n{same} of {len(rows)} recipes give mergekit's result ({', '.join(MATCHING)})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
