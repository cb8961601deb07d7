"""The text suite's probing tasks (SentEval-style perturbations of real sentences) and per-task budgets."""

import torch
from bench.quality.backends import TextBackend, TextBudget
from bench.quality.corpora.probing import (
    load_bigram_shift,
    load_clause_swap,
    load_sentence_length,
    load_sentence_order,
    load_truncated,
    usage_sentences,
)
from bench.quality.finetune import FinetuneConfig
from bench.quality.soups import mean_head
from bench.quality.suites import recipe_for

from modelfusion.evaluate import ClassificationHead, SplitSizes

SENTENCES = [f"the {w} cat sat on the mat and the dog slept near it" for w in ("red", "big", "old", "shy")] + [
    f"we walked {n} miles to town but the shop was closed" for n in ("two", "six", "ten", "nine", "five")
]


def _wordnet(tmp_path):
    lines = [f'0000{i:04d} 05 n 01 word{i} 0 000 | a gloss; "{s}"  ' for i, s in enumerate(SENTENCES)] + [
        '00009999 05 n 01 short 0 000 | a gloss; "too short here"  '
    ]
    (tmp_path / "data.noun").write_text("\n".join(lines) + "\n")
    for pos in ("verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text("")
    usage_sentences.cache_clear()
    return tmp_path


def test_usage_sentences_keep_five_words_or_more(tmp_path):
    assert usage_sentences(_wordnet(tmp_path)) == tuple(SENTENCES)


def test_bigram_shift_swaps_two_adjacent_words_and_keeps_the_rest(tmp_path):
    examples = load_bigram_shift(_wordnet(tmp_path))
    assert {e.label for e in examples} <= {"intact", "perturbed"} and examples
    for e in examples:
        if e.label == "intact":
            assert e.text in SENTENCES
        else:
            source = next(s for s in SENTENCES if sorted(s.split()) == sorted(e.text.split()))
            diff = [i for i, (a, b) in enumerate(zip(source.split(), e.text.split())) if a != b]
            assert len(diff) == 2 and diff[1] == diff[0] + 1
    assert load_bigram_shift(tmp_path) == examples  # a fixed hash decides, not a global random state


def test_clause_swap_truncated_and_length(tmp_path):
    root = _wordnet(tmp_path)
    for e in load_clause_swap(root):
        if e.label == "perturbed":
            left, right = e.text.split(" and ", 1) if " and " in e.text else e.text.split(" but ", 1)
            assert f"{right} {'and' if ' and ' in e.text else 'but'} {left}" in SENTENCES
        assert not e.text.endswith(".")
    for e in load_truncated(root):
        if e.label == "perturbed":
            assert any(s.startswith(e.text) and len(e.text.split()) < len(s.split()) for s in SENTENCES)
    labels = {e.text: e.label for e in load_sentence_length(root)}
    assert labels[SENTENCES[0]] == "12+" and labels[SENTENCES[4]] == "10-11"


def test_sentence_order_swaps_two_sentences(tmp_path):
    (tmp_path / "jokes").write_text("First one here. Second one there.\n%\nOnly one sentence here\n%\n")
    examples = load_sentence_order(tmp_path)
    assert len(examples) == 1
    assert examples[0].text in ("First one here. Second one there.", "Second one there. First one here.")


def test_text_backend_takes_per_task_budgets():
    default = SplitSizes(max_train_per_class=10)
    special = TextBudget(SplitSizes(max_train_per_class=99), FinetuneConfig(learning_rate=1.0))
    backend = TextBackend(sizes=default, finetune=FinetuneConfig(), max_length=8, budgets=(("x", special),))
    assert backend.budget("x") is special
    assert backend.budget("y").sizes is default


def test_recipes_of_the_svd_and_data_aware_methods(tmp_path):
    models = [tmp_path / "a", tmp_path / "b"]
    iso = recipe_for("iso_cts", 1.5, tmp_path / "base", models)
    assert iso["merge_method"] == "iso_cts" and iso["parameters"] == {"alpha": 1.5} and "base_model" in iso
    extras = [{"calibration": {"text": "a.txt"}}, {"calibration": {"text": "b.txt"}}]
    reg = recipe_for("regmean", 0.9, tmp_path / "base", models, extras)
    assert "base_model" not in reg and reg["models"][1]["calibration"] == {"text": "b.txt"}
    fisher = recipe_for("fisher", None, tmp_path, models, [{"statistics": "a.st"}, {"statistics": "b.st"}])
    assert fisher["models"][0] == {"model": str(models[0]), "statistics": "a.st"} and "parameters" not in fisher


def test_mean_head_averages_weights_and_biases():
    heads = [ClassificationHead(3, ("a", "b")) for _ in range(3)]
    got = mean_head(heads)
    assert torch.allclose(got.linear.weight, sum(h.linear.weight for h in heads) / 3)
    assert torch.allclose(got.linear.bias, sum(h.linear.bias for h in heads) / 3)
    assert got.labels == ("a", "b")
