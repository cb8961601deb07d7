"""Crash safety: SIGKILL at random moments never leaves a complete-looking OUT that differs from an
uninterrupted run, and `--resume` then finishes bit-identically, reusing what the journal recorded."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelfusion.checkpoint.publish import STAGING_PREFIX
from modelfusion.engine.journal import JOURNAL_NAME
from tests.conftest import snapshot
from tests.hostile.conftest import leftovers, linear_recipe
from tests.hostile.make_cases import good_model

REPO = Path(__file__).resolve().parents[2]
KILL_RUNS = 20


class ForkServer:
    """Client of tests/hostile/fork_server.py."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.fork_server"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._read() == {"ready": True}

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, "fork server died"
        return json.loads(line)

    def _ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def start(self, argv: list[str], log: Path, fsize: int | None = None) -> int:
        return self._ask({"op": "run", "argv": [str(a) for a in argv], "log": str(log), "fsize": fsize})["pid"]

    def wait(self, pid: int) -> tuple[int, float]:
        r = self._ask({"op": "wait", "pid": pid})
        return r["status"], r["seconds"]

    def run(self, argv: list, log: Path, fsize: int | None = None) -> tuple[int, str]:
        status, _ = self.wait(self.start(argv, log, fsize))
        return status, log.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    s = ForkServer()
    yield s
    s.close()


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def journal_entries(parent: Path) -> int | None:
    """Complete lines after the header in the staging folder's journal (None if there is none)."""
    stagings = [p for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX)]
    journals = [s / JOURNAL_NAME for s in stagings if (s / JOURNAL_NAME).exists()]
    if not journals:
        return None
    return max(journals[0].read_bytes().count(b"\n") - 1, 0)


@pytest.fixture(scope="module")
def big_models(tmp_path_factory) -> tuple[Path, list[Path]]:
    """Two ~8 MB models of 147 tensors: a merge takes long enough for a kill to land mid-write."""
    root = tmp_path_factory.mktemp("crash")
    models = [good_model(root / f"m{i}", seed=i, layers=24, hidden=128) for i in range(2)]
    return root, models


def test_sigkill_at_random_points_then_resume(server: ForkServer, big_models, tmp_path: Path) -> None:
    _, models = big_models
    recipe = linear_recipe(tmp_path, models)
    args = ["merge", recipe, None, "-q", "-j", "2", "--out-shard-size", "2MB"]
    before = [snapshot(m) for m in models]

    ref = tmp_path / "reference"
    status, log = server.run([*args[:2], ref, *args[3:]], tmp_path / "ref.log")
    assert status == 0, log
    expected = tree_bytes(ref)
    assert len([n for n in expected if n.endswith(".safetensors")]) >= 4
    timing = [
        server.wait(server.start([*args[:2], tmp_path / f"t{i}", *args[3:]], tmp_path / "t.log"))[1] for i in range(2)
    ]
    seconds = min(timing)

    rng = random.Random(1234)
    where = Counter()
    for i in range(KILL_RUNS):
        out = tmp_path / f"out{i}"
        delay = seconds * (i + rng.random()) / KILL_RUNS  # stratified over the whole run
        pid = server.start([*args[:2], out, *args[3:]], tmp_path / f"kill{i}.log")
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        status, _ = server.wait(pid)
        recorded = journal_entries(tmp_path)
        if out.exists():
            # OUT appears only by rename of a complete folder: if it is there, it is the whole merge.
            assert tree_bytes(out) == expected, f"run {i}: OUT exists but differs from the uninterrupted run"
            where["after publish" if status == -signal.SIGKILL else "finished before the kill"] += 1
            continue
        where["mid-write" if recorded else ("before the journal" if recorded is None else "journal empty")] += 1
        status, log = server.run(
            ["merge", recipe, out, "-q", "--out-shard-size", "2MB", "--resume"], tmp_path / f"resume{i}.log"
        )
        assert status == 0, log
        assert "Traceback" not in log
        assert f"({recorded or 0} resumed" in " ".join(log.split()), (recorded, log)  # rich wraps lines
        assert tree_bytes(out) == expected, f"run {i}: resumed output differs"
        assert leftovers(tmp_path) == []
    print(f"\n{KILL_RUNS} SIGKILLs over a {seconds:.2f} s merge: {dict(where)}")
    assert where["mid-write"] >= 3, f"too few kills landed mid-write: {dict(where)}"
    assert [snapshot(m) for m in models] == before


def test_file_size_limit_is_a_clean_error(server: ForkServer, big_models, tmp_path: Path) -> None:
    """RLIMIT_FSIZE below the shard size (a full disk): exit 2, one line, old output intact, no temp files."""
    _, models = big_models
    recipe = linear_recipe(tmp_path, models)
    out = tmp_path / "out"
    status, log = server.run(["merge", recipe, out, "-q", "--out-shard-size", "2MB"], tmp_path / "first.log")
    assert status == 0, log
    before = [snapshot(m) for m in [*models, out]]
    argv = ["merge", recipe, out, "-q", "--out-shard-size", "2MB", "--overwrite"]
    status, log = server.run(argv, tmp_path / "full.log", fsize=1_000_000)
    assert status == 2, log
    assert "File too large" in log and "Traceback" not in log and log.startswith("error:")
    assert [snapshot(m) for m in [*models, out]] == before
    assert leftovers(tmp_path) == []
