import pytest

from modelfusion.evaluate import accuracy, gain_kept, normalized_accuracy


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


def test_gain_kept_is_the_share_of_the_finetunes_gain_over_the_base():
    assert gain_kept(0.85, 0.9, 0.8) == pytest.approx(0.5)  # (0.85 - 0.8) / (0.9 - 0.8)
    assert gain_kept(0.8, 0.9, 0.8) == 0.0
    assert gain_kept(0.75, 0.9, 0.8) == pytest.approx(-0.5)  # worse than the base
    with pytest.raises(ValueError, match="must beat the base"):
        gain_kept(0.8, 0.8, 0.8)
