"""Every method's output is bit-identical to the hashes recorded before the second-wave refactor.

The hashes were written by `python -m tests.golden.regenerate` on the code before the refactor; a change that
alters any output bit fails here. Regenerate only for a deliberate, documented change of results.
"""

from __future__ import annotations

import json

import pytest

from tests.golden.cases import recipes
from tests.golden.regenerate import GOLDEN, compute

EXPECTED = json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def computed(tmp_path_factory) -> dict[str, dict[str, str]]:
    return compute(tmp_path_factory.mktemp("golden"), threads=2)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_output_bits_unchanged(case: str, computed) -> None:
    assert computed[case] == EXPECTED[case]


def test_every_case_recorded(tmp_path) -> None:
    assert set(recipes([tmp_path / f"m{i}" for i in range(4)])) == set(EXPECTED)
