"""The model card names models by Hub id or folder name (never an absolute path); modelfusion_provenance.json keeps
paths, Hub commits and the sha256 of every input weight file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelfusion.cli.main import app
from tests.pipeline.test_hub_models import SHA, add_to_cache, hub_cache  # noqa: F401 (fixture)

runner = CliRunner()


def front_matter(readme: Path) -> dict:
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(tmp_path: Path, models: list[str], *args: str):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"merge_method": "linear", "models": [{"model": m} for m in models]}))
    return runner.invoke(app, ["merge", str(recipe), str(tmp_path / "out"), "-q", *args])


@pytest.mark.parametrize("hash_inputs", [False, True])
def test_local_models_are_named_by_folder_and_recorded_in_provenance(tiny_gpt2s, tmp_path, hash_inputs):
    result = run(tmp_path, [str(p) for p in tiny_gpt2s], *(["--hash-inputs"] if hash_inputs else []))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    readme = (out / "README.md").read_text()
    assert "base_model" not in front_matter(out / "README.md")  # no Hub model: nothing the Hub could resolve
    listed = readme.split("## Recipe")[0]  # the recipe itself is quoted as the user wrote it
    assert str(tiny_gpt2s[0]) not in listed and "`m0`" in listed and "`m1`" in listed
    prov = json.loads((out / "modelfusion_provenance.json").read_text())
    assert prov["merge_method"] == "linear"
    for record, folder in zip(prov["models"], tiny_gpt2s):
        assert record["path"] == str(folder.absolute()) and "hub" not in record
        files = {f["name"]: f for f in record["files"]}
        weights = folder / "model.safetensors"
        assert files["model.safetensors"] == {"name": "model.safetensors", "bytes": weights.stat().st_size,
                                              "sha256": sha256(weights) if hash_inputs else None}  # fmt: skip
        assert files["config.json"]["sha256"] == (sha256(folder / "config.json") if hash_inputs else None)


def test_hub_models_are_listed_by_id_with_their_commit(tiny_gpt2s, tmp_path, hub_cache, monkeypatch):  # noqa: F811
    add_to_cache(hub_cache, "org/a", tiny_gpt2s[0])
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, ["org/a", str(tiny_gpt2s[1])])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert front_matter(out / "README.md")["base_model"] == ["org/a"]
    assert "`m1`" in (out / "README.md").read_text()
    hub = json.loads((out / "modelfusion_provenance.json").read_text())["models"][0]
    assert hub["ref"] == "org/a" and hub["hub"] == {"repo_id": "org/a", "revision": None, "commit": SHA}
    weights = {f["name"]: f["sha256"] for f in hub["files"]}
    assert weights["model.safetensors"] == sha256(tiny_gpt2s[0] / "model.safetensors")


def test_no_write_model_card_writes_no_card_recipe_or_provenance(tiny_gpt2s, tmp_path):
    result = run(tmp_path, [str(p) for p in tiny_gpt2s], "--no-write-model-card")
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert not names & {"README.md", "modelfusion_recipe.yaml", "modelfusion_provenance.json"}
    assert "model.safetensors" in names and "config.json" in names
