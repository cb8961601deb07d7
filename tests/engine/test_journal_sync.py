"""The journal's batched fsyncs run on a background thread: record() does not wait for them, and an error
one meets is raised by finish() (and by the next record()), never lost."""

from __future__ import annotations

import threading

import pytest
import torch

from modelfusion.engine import journal as journal_mod
from modelfusion.engine.journal import Journal, read_journal
from modelfusion.errors import OutputError


def test_record_does_not_wait_for_the_batched_sync(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod, "SYNC_EVERY_BYTES", 1)  # every record asks for a sync
    release, entered = threading.Event(), threading.Event()
    calls = []

    def slow_sync() -> None:
        calls.append(1)
        entered.set()
        assert release.wait(10)

    j = Journal(tmp_path, "fp", fresh=True, sync_data=slow_sync)
    try:
        j.record("a", torch.ones(4))
        assert entered.wait(10)  # the sync runs in the background and is blocked
        j.record("b", torch.zeros(4))  # still returns at once
        release.set()
        j.finish()
    finally:
        j.close()
    assert calls
    fingerprint, done = read_journal(tmp_path)
    assert fingerprint == "fp" and set(done) == {"a", "b"}
    assert done["b"][0] == 16


def test_a_failed_background_sync_is_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod, "SYNC_EVERY_BYTES", 1)
    failed = threading.Event()

    def broken_sync() -> None:
        failed.set()
        raise OSError(5, "Input/output error")

    j = Journal(tmp_path, "fp", fresh=True, sync_data=broken_sync)
    try:
        j.record("a", torch.ones(4))
        assert failed.wait(10)
        with pytest.raises(OutputError, match="Input/output error"):
            j.finish()
    finally:
        j.close()
