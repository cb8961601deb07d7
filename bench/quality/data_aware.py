"""What the data-aware methods get in the benchmark: calibration data and Fisher statistics per fine-tune.

- `regmean` (text): each fine-tune's recipe entry gets `calibration: {text: FILE}` with the first
  `CALIBRATION_EXAMPLES` training texts of its own task, so `modelfusion merge` computes the Gram matrices itself
  (the recipe's calibration section, as a user would write it).
- `fisher` (FISHER_EXAMPLES training examples per task): the Fisher needs each task's head, which a bare encoder
  / backbone folder does not hold, so the statistics file is computed here with
  `modelfusion.calibrate.calibrate` on a module that runs the fine-tune with its own head (the true Fisher: labels
  sampled from the model, one backward pass per example) and given to the recipe as `statistics: FILE`. The
  module exposes the encoder's sub-modules under their checkpoint names and freezes the head, so every entry is
  `fisher:<checkpoint tensor name>`.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import torch

CALIBRATION_EXAMPLES = 256
FISHER_EXAMPLES = 64
FISHER_SECONDS: dict[tuple[str, int], float] = {}
"""(task, seed) -> seconds it took to compute its Fisher file (kept beside the file as `<file>.seconds`)."""
"""The Fisher takes one backward pass per example (about 0.8 s each for MiniLM on one shared core)."""


def calibration_text(task: Any, seed: int, cache: Path) -> Path:
    """A text file of the task's first training texts, one a line (the split of `seed`)."""
    out = cache / "calibration" / f"{task.name}-s{seed}.txt"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        texts = task.texts("train")[:CALIBRATION_EXAMPLES]
        out.with_suffix(".partial").write_text("".join(" ".join(t.split()) + "\n" for t in texts))
        out.with_suffix(".partial").replace(out)
    return out


class _Headed(torch.nn.Module):
    """The model's own sub-modules under their checkpoint names, then pooling and a frozen head: logits [B, C]."""

    def __init__(self, model: torch.nn.Module, head: torch.nn.Module, forward_features) -> None:
        super().__init__()
        for name, child in model.named_children():
            self.add_module(name, child)
        self._model = [model]  # not a sub-module: its parameters are registered once, under the children's names
        self._features = forward_features
        self.head = head
        for p in head.parameters():
            p.requires_grad_(False)
        for name, p in model.named_parameters():
            if name.startswith("_fc."):  # EfficientNet's ImageNet classifier: not in the saved backbone
                p.requires_grad_(False)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.head(self._features(self._model[0], *args, **kwargs))


def _text_features(model: torch.nn.Module, **inputs: torch.Tensor) -> torch.Tensor:
    from modelfusion.evaluate.encoder import mean_pool

    return mean_pool(model(**inputs).last_hidden_state, inputs["attention_mask"])


def _image_features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    from bench.quality.vision import features

    return features(model, x)


def fisher_file(backend: Any, prepared: Any, seed: int, cache: Path) -> Path:
    """`fisher:` statistics of one fine-tune (with its head) on the first FISHER_EXAMPLES training examples."""
    from modelfusion.calibrate import calibrate

    task = prepared.task
    key = hashlib.sha256(str(prepared.folder).encode()).hexdigest()[:12]
    out = cache / "statistics" / f"{task.name}-s{seed}-{key}-n{FISHER_EXAMPLES}.fisher.safetensors"
    seconds_file = out.with_name(out.name + ".seconds")
    if out.is_file():
        if seconds_file.is_file():
            FISHER_SECONDS[(task.name, seed)] = float(seconds_file.read_text())
        return out
    model = backend.load(prepared.folder)
    if backend.kind == "text":
        from modelfusion.evaluate import tokenize

        texts = task.texts("train")[:FISHER_EXAMPLES]
        batches = [dict(tokenize(model, texts[i : i + 8])) for i in range(0, len(texts), 8)]
        module = _Headed(model.model, prepared.head, _text_features)
    else:
        from bench.quality.vision import preprocess

        images = task.part("train")[0][:FISHER_EXAMPLES]
        batches = [preprocess(images[i : i + 8], backend.config.size) for i in range(0, len(images), 8)]
        module = _Headed(model, prepared.head, _image_features)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    calibrate(module, batches, out, stats=("fisher",), seed=seed)
    FISHER_SECONDS[(task.name, seed)] = time.perf_counter() - t0
    seconds_file.write_text(f"{FISHER_SECONDS[(task.name, seed)]:.2f}")
    return out
