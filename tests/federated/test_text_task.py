"""The `text` task in process (no Ray): data files, splits, the arrays that travel, local training, the saved folder."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from modelfusion.errors import UserError
from modelfusion.federated.config import load_config
from modelfusion.federated.data import read_text
from modelfusion.federated.simulation import client_update
from modelfusion.federated.tasks import get_task
from tests.evaluate.tiny_text import save_tiny_encoder
from tests.federated.tiny_data import text_rows, write_csv, write_jsonl


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    return save_tiny_encoder(tmp_path_factory.mktemp("fed-enc") / "enc")


def _cfg(data, enc, train="all", **extra):
    return load_config(
        {
            "task": "text",
            "data": {"path": str(data)},
            "model": {"path": str(enc), "train": train},
            "clients": 3,
            "local": {"epochs": 1, "lr": 0.003, "batch_size": 8, "optimizer": "adamw"},
            **extra,
        }
    )


def test_jsonl_and_csv_give_the_same_stratified_split(tmp_path):
    rows = text_rows()
    a = read_text(load_config({"task": "text", "data": {"path": str(write_jsonl(tmp_path / "d.jsonl", rows))}}).data, 0)
    b = read_text(load_config({"task": "text", "data": {"path": str(write_csv(tmp_path / "d.csv", rows))}}).data, 0)
    assert a.labels == ("animal", "color", "sky", "vehicle") and (a.train, a.test) == (b.train, b.test)
    assert not set(a.train) & set(a.test) and len(a.test) == 4 * 6  # 20 % of each class held out
    assert a.train_tasks is not None and {a.labels[y] for y in a.train_y} == set(a.train_tasks)


def test_given_split_and_caps(tmp_path):
    rows = [dict(r, split="test" if i % 5 == 0 else "train") for i, r in enumerate(text_rows())]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    d = read_text(load_config({"task": "text", "data": {"path": str(path), "max_per_class": 3, "max_test": 5}}).data, 0)
    assert len(d.train) == 12 and len(d.test) == 5
    with pytest.raises(UserError, match="split"):
        read_text(
            load_config(
                {"task": "text", "data": {"path": str(write_jsonl(tmp_path / "x.jsonl", [dict(rows[0], split="dev")]))}}
            ).data,
            0,
        )
    with pytest.raises(UserError, match="needs a data file"):
        load_config({"task": "text"})


def test_one_task_per_client(tmp_path, encoder_dir):
    cfg = _cfg(write_jsonl(tmp_path / "d.jsonl", text_rows()), encoder_dir, clients=4, partition={"kind": "task"})
    task = get_task(cfg)
    parts = [task.client_data(c, 4, cfg.partition, 0) for c in range(4)]
    assert [{task.data.train_y[i] for i in p} for p in parts] == [{0}, {1}, {2}, {3}]  # task name = label here
    with pytest.raises(UserError, match="at least one task per client"):
        task.client_data(0, 5, cfg.partition, 0)


@pytest.mark.parametrize("train", ["all", "head"])
def test_client_update_sends_the_trained_arrays(tmp_path, encoder_dir, train):
    cfg = _cfg(write_jsonl(tmp_path / "d.jsonl", text_rows()), encoder_dir, train)
    task = get_task(cfg)
    model = task.new_model()
    g = {k: v.clone() for k, v in task.state(model).items()}
    if train == "head":
        assert set(g) == {"head.linear.weight", "head.linear.bias"}
    else:
        assert any(k.startswith("encoder.") for k in g) and "head.linear.weight" in g
    sd, n = client_update(cfg, g, 1, 3, server_round=1)
    assert set(sd) == set(g) and n == len(task.client_data(1, 3, cfg.partition, 0))
    moved = [k for k in g if g[k].is_floating_point() and not torch.equal(sd[k], g[k])]
    assert "head.linear.weight" in moved and (train == "head" or any(k.startswith("encoder.") for k in moved))
    again, _ = client_update(cfg, g, 1, 3, server_round=1)
    assert all(torch.equal(again[k], sd[k]) for k in sd)  # seeded


def test_saved_folder_opens_with_the_evaluate_layer(tmp_path, encoder_dir):
    from modelfusion.evaluate import load_encoder, load_head

    cfg = _cfg(write_jsonl(tmp_path / "d.jsonl", text_rows()), encoder_dir)
    task = get_task(cfg)
    model = task.new_model()
    task.save(model, tmp_path)
    encoder = load_encoder(tmp_path)
    head, name = load_head(tmp_path / "head.safetensors")
    assert head.labels == task.data.labels and name == "d"
    for k, v in model.encoder.state_dict().items():
        torch.testing.assert_close(encoder.model.state_dict()[k], v, rtol=0, atol=0)
    assert 0.0 <= task.accuracy(model) <= 1.0
