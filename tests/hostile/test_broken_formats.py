"""Broken GGUF, Keras, ONNX, structured .pth and RVC files: exit 2, one line naming the file, no traceback, nothing
written, inputs untouched; and a seeded, bounded fuzz (bit flips, truncation) over one valid file of each format:
a CheckpointError naming the file or a clean read, never another exception, never a hang."""

from __future__ import annotations

import contextlib
import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("gguf")
pytest.importorskip("h5py")
pytest.importorskip("onnx")

from modelfusion.checkpoint import open_checkpoint
from modelfusion.errors import CheckpointError
from tests.hostile.conftest import assert_clean_failure, linear_recipe, run_cli, untouched
from tests.hostile.format_cases import BROKEN_FORMATS, GOOD_FORMATS

FUZZ_CASES = 40
"""Mutations per format (seeded): bounded so the whole fuzz takes seconds."""
SECONDS_PER_FILE = 10


@pytest.mark.parametrize("case", list(BROKEN_FORMATS))
def test_broken_format_file_is_refused_cleanly(case: str, tmp_path: Path) -> None:
    build, fragment, good_builder = BROKEN_FORMATS[case]
    bad_folder = tmp_path / "bad"
    bad = build(bad_folder)
    good = good_builder(tmp_path / "good", seed=0, name="good" + "".join(bad.suffixes))
    recipe = linear_recipe(tmp_path, [good, bad])
    out = tmp_path / "out"
    with untouched(good.parent, bad_folder, recipe):
        result = run_cli("merge", recipe, out, "-q", "-j", "1")
    assert_clean_failure(result, out, fragment, str(bad))
    assert len(result.output.strip().splitlines()) == 1, result.output
    with pytest.raises(CheckpointError) as err:  # the API names the same file
        open_checkpoint(bad).close()
    assert err.value.where == str(bad)


@pytest.mark.parametrize("case", ["pth with no tensors", "gguf truncated", "onnx garbage", "h5 soft link"])
def test_inspect_and_compare_refuse_broken_files_cleanly(case: str, tmp_path: Path) -> None:
    build, fragment, good_builder = BROKEN_FORMATS[case]
    bad = build(tmp_path / "bad")
    good = good_builder(tmp_path / "good", seed=0, name="good" + "".join(bad.suffixes))
    report = tmp_path / "report"
    runs = [("inspect", bad), ("compare", good, "--base", bad, "-q", "-o", report)]
    runs.append(("compare", bad, "--base", good, "-q", "-o", report))
    for args in runs:
        result = run_cli(*args)
        assert result.exception is None and result.exit_code == 2, result.output
        assert result.output.startswith("error:") and fragment in result.output and str(bad) in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not report.exists()


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) if the block runs longer than `seconds`."""

    def expired(*_: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def mutations(blob: bytes, seed: int, count: int) -> Iterator[bytes]:
    """Seeded: half bit flips (1-4 bytes xor-ed anywhere), half truncations at a random offset."""
    rng = random.Random(seed)
    for _ in range(count):
        if rng.random() < 0.5:
            out = bytearray(blob)
            for _ in range(rng.randint(1, 4)):
                out[rng.randrange(len(out))] ^= rng.randint(1, 255)
            yield bytes(out)
        else:
            yield blob[: rng.randrange(len(blob))]


@pytest.mark.parametrize("fmt", list(GOOD_FORMATS))
def test_fuzzed_format_files_give_checkpoint_errors(fmt: str, tmp_path: Path) -> None:
    good = GOOD_FORMATS[fmt](tmp_path / "good", seed=3)
    blob = good.read_bytes()
    path = tmp_path / "fuzz" / good.name
    path.parent.mkdir()
    outcomes = {"refused": 0, "read": 0}
    for i, mutated in enumerate(mutations(blob, seed=sum(map(ord, fmt)), count=FUZZ_CASES)):
        path.write_bytes(mutated)
        with deadline(SECONDS_PER_FILE):
            try:
                with open_checkpoint(path) as ckpt:
                    for name in ckpt.infos:
                        ckpt.read(name)
                outcomes["read"] += 1
            except CheckpointError as e:
                assert e.where == str(path), f"mutation {i}: {e}"
                outcomes["refused"] += 1
    assert outcomes["refused"] > 0, outcomes  # the mutations do reach the readers' checks
