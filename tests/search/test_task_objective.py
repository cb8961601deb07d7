"""Built-in objective `objective: {tasks: [...]}`: a merged tiny BERT classifier scored on a tiny task's splits."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from modelfusion import search
from modelfusion.errors import UserError

pytest.importorskip("transformers")

from tests.evaluate.tiny_text import keyword_task, save_tiny_tokenizer

LABELS = ["cold", "warm"]


def _classifier(folder, seed: int, base=None):
    """A tiny BertForSequenceClassification; with `base`, the base's weights plus seeded noise (a 'fine-tune')."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    model = transformers.BertForSequenceClassification(config)
    if base is not None:
        model.load_state_dict(base.state_dict())
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(folder)
    save_tiny_tokenizer(folder)
    return model


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    base = _classifier(root / "base", 0)
    _classifier(root / "a", 1, base)
    _classifier(root / "b", 2, base)
    task = keyword_task("colour", {"red": "warm", "sun": "warm", "blue": "cold", "moon": "cold"}, n_per_class=6)
    with (root / "colour.jsonl").open("w") as f:
        for split in ("train", "validation", "test"):
            for ex in task.splits.get(split):
                f.write(json.dumps({"text": ex.text, "label": ex.label, "split": split}) + "\n")
    return root, task


def _config(root, **objective) -> dict:
    weight = {"search": "uniform", "low": 0.0, "high": 1.0}
    return {
        "merge_method": "task_arithmetic",
        "base_model": str(root / "base"),
        "models": [{"model": str(root / m), "parameters": {"weight": dict(weight)}} for m in ("a", "b")],
        "search": {"trials": 3, "sampler": "random", "seed": 0, "objective": objective},
    }


def test_tasks_objective_scores_validation_then_test_once(classifiers, tmp_path):
    from modelfusion.evaluate import load_classifier, score_classifier

    root, task = classifiers
    config = _config(root, tasks=[{"data": str(root / "colour.jsonl")}])
    summary = search(config, tmp_path / "out", merge_best=True, plots=False)
    assert summary.states == {"COMPLETE": 3}
    # the merged model written from best.yaml, scored independently through the evaluate layer
    merged = load_classifier(tmp_path / "out" / "model")
    assert summary.best_value == score_classifier(merged, task, "validation")
    assert summary.test_value == score_classifier(merged, task, "test")
    assert summary.test_scores == {"colour": summary.test_value}


def test_missing_task_file_is_one_error_naming_the_config(classifiers, tmp_path):
    root, _ = classifiers
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(_config(root, tasks=[{"data": "nowhere.jsonl"}])))
    with pytest.raises(UserError, match=r"data file .nowhere\.jsonl. not found") as e:
        search(path, tmp_path / "out")
    assert str(path) in str(e.value)
    assert not (tmp_path / "out").exists()


def test_encoder_runner_needs_heads(classifiers, tmp_path):
    root, _ = classifiers
    with pytest.raises(UserError, match="runner 'encoder' needs 'heads'"):
        search(_config(root, tasks=[{"data": str(root / "colour.jsonl")}], runner="encoder"), tmp_path / "out")


TASKS_PY = """
from tests.evaluate.tiny_text import keyword_task

def make_tasks():
    return [keyword_task("colour", {"red": "warm", "blue": "cold"}, n_per_class=6),
            keyword_task("animal", {"cat": "pet", "fish": "water"}, n_per_class=6)]
"""


def test_python_task_factory_with_encoder_and_heads(tmp_path):
    from modelfusion.evaluate import ClassificationHead, load_encoder, save_head, score
    from tests.evaluate.tiny_text import keyword_task, save_tiny_encoder

    for name, seed in (("base", 0), ("a", 1), ("b", 2)):
        save_tiny_encoder(tmp_path / name, seed)
    tasks = {
        "colour": keyword_task("colour", {"red": "warm", "blue": "cold"}, n_per_class=6),
        "animal": keyword_task("animal", {"cat": "pet", "fish": "water"}, n_per_class=6),
    }
    heads = {}
    for i, (name, task) in enumerate(tasks.items()):
        torch.manual_seed(10 + i)
        heads[name] = ClassificationHead(32, task.labels)
        save_head(heads[name], tmp_path / f"{name}.safetensors", name)
    (tmp_path / "tasks.py").write_text(TASKS_PY)
    config = _config(
        tmp_path,
        tasks=[{"python": "tasks.py:make_tasks"}],
        runner="encoder",
        heads={n: f"{n}.safetensors" for n in tasks},
    )
    config["search"]["trials"] = 2
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    summary = search(path, tmp_path / "out", merge_best=True, plots=False)
    assert summary.states == {"COMPLETE": 2}
    encoder = load_encoder(tmp_path / "out" / "model")
    expected = {n: score(encoder, t, heads[n], "test") for n, t in tasks.items()}
    expected["mean"] = (expected["colour"] + expected["animal"]) / 2
    assert summary.test_scores == pytest.approx(expected)
    assert summary.test_value == pytest.approx(expected["mean"])
