"""A Hugging Face sequence-classification model folder as a frozen text classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelfusion.ensemble.frozen import FrozenClassifier, log_softmax
from modelfusion.errors import UserError


def as_texts(X: Any) -> list[str]:
    """Accept a list / 1-d array of strings, or an (n, 1) array / one-column DataFrame of strings."""
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:
        X = X.iloc[:, 0]
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"text members need one string per sample, got an array of shape {arr.shape}")
    bad = [type(v).__name__ for v in arr if not isinstance(v, str)]
    if bad:
        raise ValueError(f"text members need strings, got {bad[0]}")
    return list(arr)


class HFTextClassifier(FrozenClassifier):
    """Frozen text classifier from a local `AutoModelForSequenceClassification` folder (model + tokenizer).

    log p(class | text) = log_softmax(model(tokenizer(text)).logits). `classes` names the data label of each output
    index (default: the folder's `config.id2label`). The model loads once, on first use, from local files only;
    `clone` returns this same member, so cross-validation never copies or reloads it.
    """

    def __init__(
        self,
        path: str | Path,
        classes: Any = None,
        batch_size: int = 32,
        max_length: int = 256,
        device: str = "cpu",
    ) -> None:
        self.path = path
        self.classes = classes
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device

    def _load(self) -> tuple[Any, Any]:
        cached = getattr(self, "_loaded", None)
        if cached is not None and cached[0] == str(self.path):
            return cached[1], cached[2]
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(self.path)
        if not (folder / "config.json").is_file():
            raise UserError("not a Hugging Face model folder (no config.json)", where=str(folder))
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot load a sequence-classification model and tokenizer: {e}", where=str(folder)) from e
        model.eval().to(self.device)
        for p in model.parameters():
            p.requires_grad_(False)
        self._loaded = (str(self.path), model, tokenizer)
        return model, tokenizer

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is not None:
            return np.asarray(self.classes)
        model, _ = self._load()
        id2label = model.config.id2label
        return np.asarray([id2label[i] for i in range(model.config.num_labels)])

    def predict_logits(self, X: Any) -> np.ndarray:
        """Raw logits, shape (n, num_labels)."""
        texts = as_texts(X)
        model, tokenizer = self._load()
        if self.classes is not None and len(self.classes) != model.config.num_labels:
            raise UserError(
                f"{len(self.classes)} classes given but the model has {model.config.num_labels} labels",
                where=str(self.path),
            )
        outs = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                outs.append(model(**batch).logits.to("cpu", torch.float64))
        return torch.cat(outs).numpy() if outs else np.zeros((0, model.config.num_labels))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return log_softmax(self.predict_logits(X))
