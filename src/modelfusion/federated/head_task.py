"""What the text and image tasks share: an encoder + head model whose head alone (train: head) or whole state dict
travels, and each client's share of the labelled training rows."""

from __future__ import annotations

import torch

from modelfusion.errors import UserError
from modelfusion.federated.config import Partition
from modelfusion.federated.data import Labelled
from modelfusion.federated.partition import partition


class HeadTask:
    """Base of TextTask and ImageTask; subclasses set `head_only` and provide `data` (a Labelled)."""

    head_only: bool
    data: Labelled

    def state(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The arrays that travel: the head alone (train: head) or every entry of the state dict."""
        sd = model.state_dict()
        return {k: v for k, v in sd.items() if k.startswith("head.")} if self.head_only else sd

    def load_state(self, model: torch.nn.Module, sd: dict[str, torch.Tensor]) -> None:
        model.load_state_dict(sd, strict=not self.head_only)

    def client_data(self, client: int, num_clients: int, split: Partition, seed: int) -> list[int]:
        d = self.data
        try:
            return partition(d.train_y, num_clients, split.kind, split.alpha, seed, tasks=d.train_tasks)[client]
        except ValueError as e:
            raise UserError(f"partition: {e}") from None
