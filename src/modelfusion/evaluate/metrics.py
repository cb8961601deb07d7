"""Metrics: accuracy; normalized accuracy and gain kept (a merged model measured against the task's own fine-tune)."""

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


def gain_kept(accuracy_merged: float, accuracy_finetuned: float, accuracy_base: float) -> float:
    """(merged - base) / (finetuned - base): the share of the fine-tune's gain over the base that merging keeps.

    1.0 = the merged model is as good as the task's own fine-tune, 0.0 = no better than the base (the zero point;
    for a classifier, the base encoder scored with the task's head). Undefined when the fine-tune did not beat the
    base, so that raises.
    """
    gain = accuracy_finetuned - accuracy_base
    if gain <= 0:
        raise ValueError(f"the fine-tune ({accuracy_finetuned}) must beat the base ({accuracy_base}) for gain kept")
    return (accuracy_merged - accuracy_base) / gain
