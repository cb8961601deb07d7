"""Running a model on a task: predictions of encoder + head, and a model folder's accuracy on tasks.

The encoder is shared (e.g. a merged one); each task brings its own head, checked against the task's labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from modelfusion.errors import UserError
from modelfusion.evaluate.encoder import Encoder, embed_texts, load_encoder
from modelfusion.evaluate.head import ClassificationHead
from modelfusion.evaluate.tasks import TextTask


@torch.inference_mode()
def predict(encoder: Encoder, head: ClassificationHead, texts: Sequence[str], batch_size: int = 64) -> list[int]:
    """Class index argmax_c (W e + b)_c for each text."""
    return head(embed_texts(encoder, texts, batch_size)).argmax(-1).tolist()


def score(encoder: Encoder, task: TextTask, head: ClassificationHead, split: str = "test") -> float:
    """The task's metric for encoder + head on one split."""
    if tuple(head.labels) != tuple(task.labels):
        raise UserError(f"head labels {list(head.labels)} differ from the task's {list(task.labels)}", where=task.name)
    return task.metric(predict(encoder, head, task.texts(split)), task.targets(split))


def evaluate_folder(
    folder: str | Path,
    tasks: Mapping[str, tuple[TextTask, ClassificationHead]],
    split: str = "test",
    max_length: int = 64,
) -> dict[str, float]:
    """Load the encoder saved in `folder` and score it on every task with that task's own head."""
    return evaluate_folder_splits(folder, tasks, [split], max_length)[split]


def evaluate_folder_splits(
    folder: str | Path,
    tasks: Mapping[str, tuple[TextTask, ClassificationHead]],
    splits: Sequence[str],
    max_length: int = 64,
) -> dict[str, dict[str, float]]:
    """{split: {task: metric}}, loading the encoder once."""
    encoder = load_encoder(folder, max_length=max_length)
    return {s: {name: score(encoder, task, head, s) for name, (task, head) in tasks.items()} for s in splits}
