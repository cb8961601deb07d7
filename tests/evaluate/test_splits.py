from collections import Counter

import pytest

from modelfusion.evaluate import Example, SplitSizes, stratified_split


def _examples(counts: dict[str, int]) -> list[Example]:
    return [Example(f"{label} text {i}", label) for label, n in counts.items() for i in range(n)]


def test_splits_are_disjoint_stratified_and_cover_every_example():
    examples = _examples({"a": 50, "b": 30, "c": 20})
    s = stratified_split(examples, SplitSizes(0.2, 0.1), seed=3)
    texts = [e.text for part in (s.train, s.validation, s.test) for e in part]
    assert sorted(texts) == sorted(e.text for e in examples)
    assert Counter(e.label for e in s.test) == {"a": 10, "b": 6, "c": 4}
    assert Counter(e.label for e in s.validation) == {"a": 5, "b": 3, "c": 2}
    assert Counter(e.label for e in s.train) == {"a": 35, "b": 21, "c": 14}


def test_same_seed_same_split_other_seed_other_split():
    examples = _examples({"a": 40, "b": 40})
    one = stratified_split(examples, SplitSizes(), seed=0)
    assert one == stratified_split(list(reversed(examples)), SplitSizes(), seed=0)
    assert {e.text for e in one.test} != {e.text for e in stratified_split(examples, SplitSizes(), seed=1).test}


def test_caps_balance_classes_and_keep_smaller_runs_inside_larger_ones():
    examples = _examples({"big": 200, "small": 40})
    capped = stratified_split(examples, SplitSizes(0.2, 0.2, 10, 4, 6), seed=0)
    assert Counter(e.label for e in capped.train) == {"big": 10, "small": 10}
    assert Counter(e.label for e in capped.validation) == {"big": 4, "small": 4}
    assert Counter(e.label for e in capped.test) == {"big": 6, "small": 6}
    full = stratified_split(examples, SplitSizes(0.2, 0.2), seed=0)
    assert {e.text for e in capped.test} <= {e.text for e in full.test}
    assert {e.text for e in capped.train} <= {e.text for e in full.train}


def test_duplicate_texts_are_kept_once():
    examples = [Example("same", "a")] * 5 + _examples({"a": 9})
    s = stratified_split(examples, SplitSizes(), seed=0)
    assert sum(e.text == "same" for part in (s.train, s.validation, s.test) for e in part) == 1


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError):
        SplitSizes(0.6, 0.5)
