import pytest

from modelfusion.evaluate import accuracy, normalized_accuracy


def test_accuracy_counts_matches():
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert normalized_accuracy(0.6, 0.8) == pytest.approx(0.75)


def test_accuracy_refuses_mismatched_or_empty_input():
    with pytest.raises(ValueError):
        accuracy([0], [0, 1])
    with pytest.raises(ValueError):
        accuracy([], [])
    with pytest.raises(ValueError):
        normalized_accuracy(0.5, 0.0)
