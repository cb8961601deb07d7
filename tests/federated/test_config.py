"""Simulation config, strategy names and the Dirichlet split, without starting Flower's simulation."""

from __future__ import annotations

import pytest

from modelfusion.errors import UserError
from modelfusion.federated.config import load_config
from modelfusion.federated.partition import partition


def test_defaults_and_unknown_keys():
    cfg = load_config({"clients": 4})
    assert cfg.task == "tiny" and cfg.strategy.name == "merge" and cfg.ray.num_cpus_per_client == 1
    with pytest.raises(UserError, match="roundz"):
        load_config({"roundz": 3})
    with pytest.raises(UserError, match=r"malicious\.clients"):
        load_config({"clients": 2, "malicious": {"clients": [5]}})


def test_strategy_names_are_checked_before_ray():
    pytest.importorskip("flwr")
    from modelfusion.federated.strategies import build_strategy

    with pytest.raises(UserError, match="unknown strategy"):
        build_strategy(load_config({"strategy": {"name": "fedfoo"}}))
    with pytest.raises(UserError, match=r"for strategy 'merge'"):
        build_strategy(load_config({"strategy": {"name": "fedmedian", "clip_norm": 1.0}}))
    s = build_strategy(load_config({"clients": 5, "strategy": {"name": "fedtrimmedavg", "options": {"beta": 0.2}}}))
    assert type(s).__name__ == "FedTrimmedAvg" and s.min_train_nodes == 5 and s.beta == 0.2


@pytest.mark.parametrize("kind", ["dirichlet", "iid"])
def test_partition_is_a_seeded_disjoint_cover(kind):
    labels = [i % 4 for i in range(400)]
    parts = partition(labels, 5, kind, alpha=0.3, seed=1)
    assert sorted(i for p in parts for i in p) == list(range(400))
    assert parts == partition(labels, 5, kind, alpha=0.3, seed=1)
    assert min(len(p) for p in parts) >= 2


def test_small_alpha_is_skewed():
    labels = [i % 4 for i in range(800)]
    parts = partition(labels, 4, "dirichlet", alpha=0.1, seed=0)
    top_share = [max(sum(1 for i in p if labels[i] == c) for c in range(4)) / len(p) for p in parts]
    assert sum(top_share) / 4 > 0.6


def test_import_and_cli_load_neither_flower_nor_ray():
    import subprocess
    import sys

    code = (
        "import sys, modelfusion, modelfusion.federated, modelfusion.cli.main;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flwr', 'ray')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_task_sections_and_paths_relative_to_the_config(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": "x"}\n')
    (tmp_path / "fed.yaml").write_text("task: text\ndata: {path: d.jsonl}\nmodel: {train: head}\n")
    cfg = load_config(tmp_path / "fed.yaml")
    assert cfg.data.path == (tmp_path / "d.jsonl").resolve() and cfg.model.train == "head"
    with pytest.raises(UserError, match="image_size"):
        load_config({"task": "image", "data": {"path": "x.npz"}, "model": {"image_size": 16}})
    with pytest.raises(UserError, match=r"model\.train"):
        load_config({"model": {"train": "some"}})


def test_task_split_needs_task_names():
    from modelfusion.federated.tasks import get_task

    cfg = load_config({"partition": {"kind": "task"}})
    with pytest.raises(UserError, match="no tasks"):
        get_task(cfg).client_data(0, 3, cfg.partition, 0)
    with pytest.raises(ValueError, match="at least one task per client"):
        partition([0, 1, 0, 1], 3, "task", 0.5, 0, tasks=["a", "b", "a", "b"])
    assert partition([0, 1, 0, 1], 2, "task", 0.5, 0, tasks=["b", "a", "b", "a"]) == [[1, 3], [0, 2]]
