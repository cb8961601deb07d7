"""Metrics: accuracy, and normalized accuracy (a merged model's accuracy over the task's own fine-tune's)."""

from __future__ import annotations

from collections.abc import Sequence


def accuracy(predicted: Sequence[int], target: Sequence[int]) -> float:
    """Fraction of positions where predicted == target."""
    if len(predicted) != len(target):
        raise ValueError(f"{len(predicted)} predictions for {len(target)} targets")
    if not target:
        raise ValueError("accuracy of an empty set")
    return sum(int(p == t) for p, t in zip(predicted, target)) / len(target)


def normalized_accuracy(accuracy_merged: float, accuracy_finetuned: float) -> float:
    """accuracy_merged / accuracy_finetuned (FusionBench's normalized accuracy; 1.0 = no loss from merging)."""
    if accuracy_finetuned <= 0:
        raise ValueError("the fine-tuned accuracy must be positive to normalize by it")
    return accuracy_merged / accuracy_finetuned
