"""MergeOptions: user values normalised once, invalid ones refused with one-line user errors, frozen."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from modelfusion.errors import UserError
from modelfusion.pipeline import MergeOptions
from modelfusion.pipeline.options import CACHE_ENV
from modelfusion.plan.job import MergePlan


def test_user_values_are_normalised(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env-cache"))
    options = MergeOptions.create(threads=None, out_shard_size="2KB")
    assert options.threads == (os.cpu_count() or 1)
    assert options.shard_bytes == 2000
    assert options.cache_dir == tmp_path / "env-cache"
    assert MergeOptions.create(threads=0).threads == options.threads
    assert MergeOptions.create(threads=3, cache_dir=str(tmp_path)).cache_dir == tmp_path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"threads": -1}, "threads must be a positive integer"),
        ({"out_shard_size": "5 parsecs"}, "cannot read size"),
        ({"out_shard_size": 0}, "size must be positive"),
        ({"device": "tpu"}, "device 'tpu'"),
        ({"random_seed": "7"}, "random seed must be an integer"),
    ],
)
def test_invalid_values_are_user_errors(values: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        MergeOptions.create(**values)


def test_options_are_frozen_and_run_options_are_not_plan_fields() -> None:
    options = MergeOptions.create(threads=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.resume = True  # type: ignore[misc]
    fields = {f.name for f in dataclasses.fields(MergePlan)}
    assert not fields & {"allow_nonfinite", "observer"}
