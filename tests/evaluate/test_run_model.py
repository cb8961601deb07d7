import pytest
import torch

from modelfusion.api import merge
from modelfusion.errors import UserError
from modelfusion.evaluate import ClassificationHead, evaluate_folder, load_head, save_head
from tests.evaluate.tiny_text import keyword_task, save_tiny_encoder


def _random_head(task, seed):
    torch.manual_seed(seed)
    return ClassificationHead(32, task.labels)


def test_evaluate_folder_matches_an_independent_computation(tiny_encoder_dir):
    import transformers

    task = keyword_task("colour", {"red": "warm", "blue": "cold"}, n_per_class=12)
    head = _random_head(task, 1)
    got = evaluate_folder(tiny_encoder_dir, {"colour": (task, head)}, "test")
    tok = transformers.AutoTokenizer.from_pretrained(tiny_encoder_dir)
    model = transformers.AutoModel.from_pretrained(tiny_encoder_dir).eval()
    hits = 0
    for text, target in zip(task.texts("test"), task.targets("test")):
        with torch.no_grad():
            e = model(**tok(text, return_tensors="pt")).last_hidden_state[0].mean(0)
            hits += int((head.linear.weight @ e + head.linear.bias).argmax().item() == target)
    assert got == {"colour": hits / len(task.texts("test"))}


def test_head_round_trip_and_label_check(tmp_path, tiny_encoder_dir):
    task = keyword_task("colour", {"red": "warm", "blue": "cold"}, n_per_class=8)
    head = _random_head(task, 2)
    save_head(head, tmp_path / "h.safetensors", "colour")
    loaded, name = load_head(tmp_path / "h.safetensors")
    assert name == "colour" and loaded.labels == ("cold", "warm")
    assert torch.equal(loaded.linear.weight, head.linear.weight)
    other = keyword_task("animal", {"cat": "pet", "fish": "water"}, n_per_class=8)
    with pytest.raises(UserError, match="head labels"):
        evaluate_folder(tiny_encoder_dir, {"animal": (other, loaded)}, "test")
    with pytest.raises(UserError, match="not found"):
        load_head(tmp_path / "missing.safetensors")


def test_a_merged_folder_is_scored_on_each_task_with_its_own_head(tmp_path):
    a = save_tiny_encoder(tmp_path / "a", seed=1)
    b = save_tiny_encoder(tmp_path / "b", seed=2)
    recipe = {"merge_method": "linear", "models": [{"model": str(a)}, {"model": str(b)}], "dtype": "float32"}
    merge(recipe, tmp_path / "merged")
    t1 = keyword_task("colour", {"red": "warm", "blue": "cold"}, n_per_class=8)
    t2 = keyword_task("animal", {"cat": "pet", "fish": "water", "dog": "land"}, n_per_class=8)
    scores = evaluate_folder(
        tmp_path / "merged", {"colour": (t1, _random_head(t1, 3)), "animal": (t2, _random_head(t2, 4))}
    )
    assert set(scores) == {"colour", "animal"} and all(0 <= s <= 1 for s in scores.values())
