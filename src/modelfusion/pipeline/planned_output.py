"""The output of a planned, not yet computed stage, seen as a Checkpoint (metadata only) so that the stages using
it can be planned before anything is written."""

from __future__ import annotations

import torch

from modelfusion.checkpoint import Checkpoint, TensorInfo
from modelfusion.checkpoint.tokenizer_files import Vocab
from modelfusion.plan import MergePlan
from modelfusion.plan.vocab import checkpoint_vocab


class _PlannedFile:
    """Tensor metadata of a stage output that does not exist yet."""

    def __init__(self, infos: dict[str, TensorInfo]) -> None:
        self.infos = infos

    def read(self, name: str) -> torch.Tensor:
        raise RuntimeError(f"stage output not computed yet (tensor {name})")

    def close(self) -> None:
        pass


def planned_checkpoint(label: str, plan: MergePlan) -> Checkpoint:
    """A Checkpoint describing what `plan` will write: names, shapes, dtypes, config and vocabulary."""
    infos = {i.name: TensorInfo(i.name, i.shape, i.dtype, label) for i in plan.out_tensors}
    vocab: Vocab | None = None
    if plan.tokenizer is not None:  # the stage's output vocabulary (else its base's, read from the base's folder)
        vocab = Vocab(plan.tokenizer.ids, frozenset(t for t, special in plan.tokenizer.added if special))
    elif plan.base_model is not None:
        vocab = checkpoint_vocab(plan.checkpoints[plan.base_model])
    return Checkpoint(label, [_PlannedFile(infos)], config=plan.config, planned_vocab=vocab)
