"""What a suite needs from its model family: fine-tune and probe a task for a seed, and per-example correctness of
a model folder with given heads. One backend for text (all-MiniLM-L6-v2, Hugging Face folders), one for vision
(EfficientNet-Lite0, safetensors folders). Both are plain dataclasses, so they travel to worker processes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from modelfusion.evaluate import SplitSizes, load_head


@dataclass
class Prepared:
    """One task at one seed: the task, its fine-tune's merge input folder, its fine-tuned head, its probe head."""

    task: Any
    folder: Path
    head: Any
    probe: Any


@dataclass(frozen=True)
class TextBudget:
    """One task's split caps and fine-tuning hyper-parameters, when they differ from the backend's defaults."""

    sizes: SplitSizes
    finetune: Any  # bench.quality.finetune.FinetuneConfig


@dataclass(frozen=True)
class TextBackend:
    sizes: SplitSizes
    finetune: Any  # bench.quality.finetune.FinetuneConfig
    max_length: int
    kind: str = "text"
    budgets: tuple[tuple[str, TextBudget], ...] = ()
    """Per-task overrides of (sizes, finetune), as (task name, budget) pairs."""

    def budget(self, name: str) -> TextBudget:
        return dict(self.budgets).get(name, TextBudget(self.sizes, self.finetune))

    def base(self, cache: Path) -> Path:
        from bench.quality.run import base_model_path

        return base_model_path()

    def task(self, name: str, seed: int) -> Any:
        from bench.quality.tasks import load_task

        return load_task(name, self.budget(name).sizes, seed)

    def prepare(self, name: str, seed: int, cache: Path, threads: int) -> Prepared:
        from bench.quality.store import finetuned_folder, probe_head_file

        torch.set_num_threads(threads)
        base, task = self.base(cache), self.task(name, seed)
        config = replace(self.budget(name).finetune, seed=seed)
        folder = finetuned_folder(base, task, cache / "finetuned", config, self.max_length)
        probe = probe_head_file(base, task, cache / "probes", config, self.max_length)
        return Prepared(task, folder / "encoder", load_head(folder / "head.safetensors")[0], load_head(probe)[0])

    def ingredient(self, name: str, split_seed: int, config: Any, cache: Path) -> tuple[Path, Any]:
        """A fine-tune of task `name` (splits of `split_seed`) with `config` as given (its own seed and lr):
        (merge input folder, head). For soups: several fine-tunes of one task on one split."""
        from bench.quality.store import finetuned_folder

        folder = finetuned_folder(
            self.base(cache), self.task(name, split_seed), cache / "finetuned", config, self.max_length
        )
        return folder / "encoder", load_head(folder / "head.safetensors")[0]

    def load(self, folder: Path) -> Any:
        """The encoder of a model folder, ready for `logits`."""
        from modelfusion.evaluate import load_encoder

        return load_encoder(folder, self.max_length)

    @torch.no_grad()
    def logits(self, model: Any, task: Any, head: Any, split: str, idx: list[int] | None = None) -> torch.Tensor:
        """(n, classes) logits of a loaded encoder + `head` on the task's split (the examples `idx` if given)."""
        from modelfusion.evaluate import embed_texts

        texts = task.texts(split)
        return head(embed_texts(model, texts if idx is None else [texts[i] for i in idx]))

    def correct(self, folder: Path, heads: dict, split: str) -> dict[str, list[int]]:
        from modelfusion.evaluate import load_encoder, predict

        encoder = load_encoder(folder, self.max_length)
        out = {}
        for name, (task, head) in heads.items():
            pred = predict(encoder, head, task.texts(split))
            out[name] = [int(p == t) for p, t in zip(pred, task.targets(split))]
        return out


@dataclass(frozen=True)
class VisionBackend:
    sizes: SplitSizes
    config: Any  # bench.quality.vision.VisionConfig
    kind: str = "vision"

    def base(self, cache: Path) -> Path:
        from bench.quality.vision import base_folder

        return base_folder(cache)

    def task(self, name: str, seed: int) -> Any:
        from bench.quality.vision import make_image_task

        return make_image_task(name, self.sizes, seed)

    def prepare(self, name: str, seed: int, cache: Path, threads: int) -> Prepared:
        from bench.quality.vision import finetuned_image_folder, probe_image_file

        torch.set_num_threads(threads)
        task, config = self.task(name, seed), replace(self.config, seed=seed)
        folder = finetuned_image_folder(task, cache / "finetuned", config)
        probe = probe_image_file(task, cache / "probes", config)
        return Prepared(task, folder, load_head(folder / "head.safetensors")[0], load_head(probe)[0])

    def ingredient(self, name: str, split_seed: int, config: Any, cache: Path) -> tuple[Path, Any]:
        """As TextBackend.ingredient: (merge input folder, head) of one fine-tune with `config` as given."""
        from bench.quality.vision import finetuned_image_folder

        folder = finetuned_image_folder(self.task(name, split_seed), cache / "finetuned", config)
        return folder, load_head(folder / "head.safetensors")[0]

    def load(self, folder: Path) -> Any:
        """The backbone of a model folder, ready for `logits`."""
        from bench.quality.vision import backbone

        return backbone(folder / "model.safetensors")

    @torch.no_grad()
    def logits(self, model: Any, task: Any, head: Any, split: str, idx: list[int] | None = None) -> torch.Tensor:
        """(n, classes) logits of a loaded backbone + `head` on the task's split (the images `idx` if given)."""
        from bench.quality.vision import embed_images

        images = task.part(split)[0]
        return head(embed_images(model, images if idx is None else images[idx], self.config.size))

    def correct(self, folder: Path, heads: dict, split: str) -> dict[str, list[int]]:
        from bench.quality.vision import backbone, embed_images

        model = backbone(folder / "model.safetensors")
        out = {}
        with torch.no_grad():
            for name, (task, head) in heads.items():
                images, targets = task.part(split)
                pred = head(embed_images(model, images, self.config.size)).argmax(-1).tolist()
                out[name] = [int(p == t) for p, t in zip(pred, targets)]
        return out
