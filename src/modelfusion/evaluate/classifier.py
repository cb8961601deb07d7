"""A Hugging Face sequence classifier (AutoModelForSequenceClassification) run on a task.

The classifier's own head is used: its class names come from config.id2label and are matched to the task's labels
by name (their order may differ). This is how a soup of whole classifiers, all fine-tuned on one task, is scored;
for one shared encoder with a head per task, see run_model.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelfusion.errors import UserError
from modelfusion.evaluate.encoder import batches, load_hf_folder
from modelfusion.evaluate.tasks import TextTask


@dataclass
class Classifier:
    """A transformers sequence-classification model, its tokenizer and its class names (index i = labels[i])."""

    model: Any
    tokenizer: Any
    labels: tuple[str, ...]
    max_length: int = 64


def load_classifier(folder: str | Path, max_length: int = 64) -> Classifier:
    """Load the sequence classifier saved in `folder`; its class names are config.id2label."""
    model, tokenizer = load_hf_folder(Path(folder), "AutoModelForSequenceClassification")
    id2label = model.config.id2label
    labels = tuple(str(id2label[i]) for i in range(model.config.num_labels))
    return Classifier(model=model, tokenizer=tokenizer, labels=labels, max_length=max_length)


@torch.inference_mode()
def classify(classifier: Classifier, texts: Sequence[str], batch_size: int = 64) -> list[str]:
    """The predicted class name, argmax of the logits, for each text."""
    out = [""] * len(texts)
    for idx, inputs in batches(classifier, texts, batch_size):
        for i, c in zip(idx, classifier.model(**inputs).logits.argmax(-1).tolist()):
            out[i] = classifier.labels[c]
    return out


def score_classifier(classifier: Classifier, task: TextTask, split: str = "test") -> float:
    """The task's metric for the classifier on one split; its class names must be the task's."""
    if set(classifier.labels) != set(task.labels) or len(classifier.labels) != len(task.labels):
        raise UserError(
            f"classifier labels {list(classifier.labels)} differ from the task's {list(task.labels)}", where=task.name
        )
    index = {name: i for i, name in enumerate(task.labels)}
    predicted = [index[name] for name in classify(classifier, task.texts(split))]
    return task.metric(predicted, task.targets(split))
