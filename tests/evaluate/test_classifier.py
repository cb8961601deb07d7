import pytest
import torch

from modelfusion.errors import UserError
from modelfusion.evaluate import classify, load_classifier, score_classifier
from tests.evaluate.tiny_text import keyword_task, save_tiny_tokenizer


def _save_tiny_classifier(folder, id2label, seed=0):
    """A tiny random BertForSequenceClassification whose class names are `id2label` (index order)."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        id2label=dict(enumerate(id2label)),
        label2id={name: i for i, name in enumerate(id2label)},
    )
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    save_tiny_tokenizer(folder)
    return folder


def test_a_classifier_is_scored_by_label_name_not_by_index(tmp_path):
    import transformers

    task = keyword_task("colour", {"red": "warm", "blue": "cold", "green": "plant"}, n_per_class=8)
    assert task.labels == ("cold", "plant", "warm")
    folder = _save_tiny_classifier(tmp_path / "clf", ["warm", "cold", "plant"], seed=3)  # not the task's order
    clf = load_classifier(folder)
    assert clf.labels == ("warm", "cold", "plant")
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    expected = []
    for text in task.texts("test"):
        with torch.no_grad():
            expected.append(["warm", "cold", "plant"][model(**tok(text, return_tensors="pt")).logits[0].argmax()])
    assert classify(clf, task.texts("test")) == expected
    hits = sum(int(name == task.labels[t]) for name, t in zip(expected, task.targets("test")))
    assert score_classifier(clf, task, "test") == hits / len(expected)


def test_a_classifier_with_other_labels_is_refused(tmp_path):
    task = keyword_task("colour", {"red": "warm", "blue": "cold"}, n_per_class=8)
    clf = load_classifier(_save_tiny_classifier(tmp_path / "clf", ["LABEL_0", "LABEL_1"]))
    with pytest.raises(UserError, match="classifier labels"):
        score_classifier(clf, task)
    with pytest.raises(UserError, match=r"no config\.json"):
        load_classifier(tmp_path / "nowhere")
