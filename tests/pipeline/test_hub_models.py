"""Recipes naming Hugging Face ids (`org/name`, `org/name@revision`) resolve through a Hub cache folder built in the
test (HF_HUB_OFFLINE=1, no network); local paths win; a missing id is one line naming it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from modelfusion.checkpoint.hub import HubRef, hub_source, parse_hub_ref
from modelfusion.cli.main import app

runner = CliRunner()
SHA = "0123456789abcdef0123456789abcdef01234567"
SHA2 = "fedcba9876543210fedcba9876543210fedcba98"


def add_to_cache(cache: Path, repo_id: str, model: Path, sha: str = SHA, ref: str = "main") -> Path:
    """Lay out `model` as huggingface_hub caches it: models--org--name/{refs/<ref>, blobs/<sha256>,
    snapshots/<sha>/<file> -> ../../blobs/<sha256>}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / sha
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for f in sorted(model.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            blob = blobs / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            link = snap / f.relative_to(model)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(sha)
    return snap


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def run(tmp_path: Path, recipe: dict, *args: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return runner.invoke(app, ["merge", str(path), str(tmp_path / "out"), "-q", *args])


def test_parse_hub_ref():
    assert parse_hub_ref("org/name") == HubRef("org/name")
    assert parse_hub_ref("meta-llama/Llama-3.1-8B@v1.0") == HubRef("meta-llama/Llama-3.1-8B", "v1.0")
    for not_an_id in ("./a/b", "/abs/path", "a/b/c", "name", "../x", "org/name@", "org/..", "~/x"):
        assert parse_hub_ref(not_an_id) is None, not_an_id


def test_hub_source_of_a_snapshot_path():
    p = Path("/c/models--org--my-model/snapshots") / SHA / "model.safetensors"
    assert hub_source(p) == HubRef("org/my-model", SHA)
    assert hub_source(Path("/tmp/org/name")) is None


def test_hub_ids_merge_from_the_cache(tiny_gpt2s, tmp_path, hub_cache, monkeypatch):
    add_to_cache(hub_cache, "org/a", tiny_gpt2s[0])
    add_to_cache(hub_cache, "org/b", tiny_gpt2s[1], sha=SHA2, ref="v2")
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, {"merge_method": "linear", "models": [{"model": "org/a"}, {"model": "org/b@v2"}]})
    assert result.exit_code == 0, result.output
    a, b = (load_file(p / "model.safetensors") for p in tiny_gpt2s)
    out = load_file(tmp_path / "out" / "model.safetensors")
    name = "transformer.wte.weight"
    torch.testing.assert_close(out[name], (a[name] + b[name]) / 2)


def test_a_local_folder_wins_over_a_hub_id(tiny_gpt2s, tmp_path, hub_cache, monkeypatch):
    add_to_cache(hub_cache, "org/a", tiny_gpt2s[1])  # the cached one differs from the local one
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "a").symlink_to(tiny_gpt2s[0], target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, {"merge_method": "linear", "models": [{"model": "org/a"}]})
    assert result.exit_code == 0, result.output
    name = "transformer.wte.weight"
    expected = load_file(tiny_gpt2s[0] / "model.safetensors")[name]
    torch.testing.assert_close(load_file(tmp_path / "out" / "model.safetensors")[name], expected)


def test_a_missing_hub_id_is_one_line_naming_it(tiny_gpt2s, tmp_path, hub_cache, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, {"merge_method": "linear", "models": [{"model": str(tiny_gpt2s[0])}, {"model": "org/nope"}]})
    assert result.exit_code == 2, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert "model 'org/nope'" in lines[0] and "HF_HUB_OFFLINE" in lines[0]


def test_a_missing_hub_revision_is_one_line(tiny_gpt2s, tmp_path, hub_cache, monkeypatch):
    add_to_cache(hub_cache, "org/a", tiny_gpt2s[0])
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, {"merge_method": "linear", "models": [{"model": "org/a@nope"}]})
    assert result.exit_code == 2, result.output
    assert "model 'org/a@nope'" in result.stderr and "Traceback" not in result.output
