"""Issue 16's AdaMerging row of the text suite: layer-wise task-arithmetic coefficients learned on unlabeled data.

AdaMerging (Yang et al. 2024, `modelfusion.calibrate.adamerging.adamerge`, mode "layer", its defaults: lambda_0
0.3, Adam lr 1e-3, lambda clamped to [0, 1]) minimises, over the coefficients only, the mean prediction entropy of
the merged encoder on each task's unlabeled inputs: the first UNLABELED_EXAMPLES *training* texts of each task
(labels unused; never validation or test), batches of BATCH_SIZE. Task k's logits are its own fine-tuned head on
the mean-pooled last hidden state: the model given to adamerge is `MeanPooled`, a wrapper that registers the
BertModel's children under their own names (as data_aware._Headed), so its parameter names are the checkpoint's
tensor names and the learned recipe names real tensors of the real folders.

Steps: the paper runs 500 at Adam lr 1e-3; on this benchmark's shared CPU we run `steps` (100 in the suite's
runs) at LEARNING_RATE 5e-3, so the coefficients can travel as far (Adam moves each by at most about lr per step)
in a fifth of the steps. The row is AdaMerging under a reduced budget; entropy before / after is reported with it.

The learned recipe (a plain `task_arithmetic` recipe, lambda 1.0, normalize false, per-tensor weight filter lists)
is merged again through `modelfusion merge` and scored once on test by the suite's Scorer, like every other row.
There is no validation grid: AdaMerging chooses its coefficients itself. Cost: calibration_seconds (the adamerge
call), merge_seconds and peak_rss_mb (the `modelfusion merge` of the recipe).

The recipe is cached as <cache>/adamerging/s<seed>-steps<steps>-lr<lr>.yaml, with a .json sidecar (seconds, entropies).
"""

from __future__ import annotations

import copy
import json
import resource
import time
from pathlib import Path
from typing import Any

import torch
import yaml

UNLABELED_EXAMPLES = 64
BATCH_SIZE = 16
MODE = "layer"
LEARNING_RATE = 5e-3


class MeanPooled(torch.nn.Module):
    """A BertModel's children under their own names; forward returns the mask-weighted mean of the last hidden
    state (batch, hidden). Parameter names equal the model's state-dict (= checkpoint) names."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        self._model = [model]  # not a sub-module: its parameters are registered once, under the children's names

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        from modelfusion.evaluate.encoder import mean_pool

        out = self._model[0](input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return mean_pool(out.last_hidden_state, attention_mask)


def unlabeled_batches(encoder: Any, texts: list[str]) -> list[dict[str, torch.Tensor]]:
    from modelfusion.evaluate import tokenize

    return [dict(tokenize(encoder, texts[i : i + BATCH_SIZE])) for i in range(0, len(texts), BATCH_SIZE)]


def learn_recipe(suite: Any, p: dict, base: Path, steps: int) -> tuple[Any, dict]:
    """(AdaMergingResult, facts) of layer-wise AdaMerging of the suite's fine-tunes onto `base`."""
    from modelfusion.calibrate.adamerging import adamerge

    backend = suite.backend
    base_encoder = backend.load(base)
    models, data, heads = [], [], []
    for t in suite.tasks:
        encoder = backend.load(p[t].folder)
        models.append(MeanPooled(encoder.model))
        data.append(unlabeled_batches(encoder, p[t].task.texts("train")[:UNLABELED_EXAMPLES]))
        head = copy.deepcopy(p[t].head).eval()  # a copy: its parameters get no gradients, the suite's head untouched
        for q in head.parameters():
            q.requires_grad_(False)
        heads.append(head)
    t0 = time.perf_counter()
    result = adamerge(
        MeanPooled(base_encoder.model),
        models,
        data,
        names=[str(p[t].folder) for t in suite.tasks],
        base_name=str(base),
        mode=MODE,
        steps=steps,
        lr=LEARNING_RATE,
        heads=heads,
    )
    seconds = time.perf_counter() - t0
    facts = {
        "mode": MODE,
        "steps": steps,
        "learning_rate": LEARNING_RATE,
        "unlabeled_examples": UNLABELED_EXAMPLES,
        "batch_size": BATCH_SIZE,
        "entropy_before": dict(zip(suite.tasks, (round(e, 4) for e in result.entropy_before))),
        "entropy_after": dict(zip(suite.tasks, (round(e, 4) for e in result.entropy_after))),
        "loss_first_last": [round(result.losses[0], 4), round(result.losses[-1], 4)] if result.losses else [],
        "calibration_seconds": round(seconds, 1),
        "calibration_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    return result, facts


def adamerging_rows(suite: Any, seed: int, p: dict, scorer: Any, base: Path, steps: int = 100) -> dict:
    """{"adamerging": row} at one seed (rows as suites.run_seed's, plus "adamerging": facts of the calibration)."""
    recipe_file = scorer.cache / "adamerging" / f"s{seed}-steps{steps}-lr{LEARNING_RATE}.yaml"
    facts_file = recipe_file.with_suffix(".json")
    folders = [Path(p[t].folder).resolve() for t in suite.tasks]
    recipe = yaml.safe_load(recipe_file.read_text()) if recipe_file.is_file() and facts_file.is_file() else None
    same = recipe is not None and [Path(m["model"]).resolve() for m in recipe["models"]] == folders
    if not same or Path(recipe["base_model"]).resolve() != Path(base).resolve():
        result, facts = learn_recipe(suite, p, base, steps)
        recipe_file.parent.mkdir(parents=True, exist_ok=True)
        result.write(recipe_file.with_suffix(".partial"))
        recipe_file.with_suffix(".partial").replace(recipe_file)
        facts_file.write_text(json.dumps(facts, indent=1) + "\n")
        recipe = yaml.safe_load(recipe_file.read_text())
    facts = json.loads(facts_file.read_text())
    data = {"dtype": "float32", **recipe}
    name = f"adamerging-steps{steps}-s{seed}"
    test = scorer.merged(data, name, {t: (p[t].task, p[t].head) for t in suite.tasks}, "test", seed)
    merge_cost = getattr(scorer, "costs", {}).get(name) or {}  # Scorer.costs: {merge_seconds, peak_rss_mb}
    cost = {"calibration_seconds": facts["calibration_seconds"], **merge_cost}
    row = {"test": test, "param": None, "chosen": None, "grid": [], "cost": cost, "adamerging": facts}
    accs = " ".join(f"{sum(test[t]) / len(test[t]):.3f}" for t in suite.tasks)
    print(
        f"  seed {seed} adamerging ({steps} steps, {facts['calibration_seconds']:.0f} s): {accs}; entropy "
        f"{sum(facts['entropy_before'].values()):.3f} -> {sum(facts['entropy_after'].values()):.3f} (sum over tasks)"
    )
    return {"adamerging": row}
