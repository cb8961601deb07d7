"""What `modelfusion moe` refuses, as mergekit-moe does (identical prompts, missing prompts, identical experts,
too few experts) and beyond (unknown keys, impossible architectures, unsafe outputs): one line, exit 2, nothing
written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from modelfusion.cli.main import app
from modelfusion.errors import RecipeError, UserError
from modelfusion.moe import build_moe
from tests.moe.conftest import moe_config, write_config


def _refused(tmp_path, config, match, cls=RecipeError):
    cfg = write_config(tmp_path, config)
    with pytest.raises(cls, match=match):
        build_moe(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".modelfusion-staging")]


def test_identical_prompt_sets_refused(llama_family, tmp_path):
    config = moe_config(llama_family, "hidden", experts=2)
    config["experts"][1].update(config["experts"][0], source_model=str(llama_family["e1"]))
    _refused(tmp_path, config, "same positive and negative prompts")


def test_missing_positive_prompts_refused(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2)
    del config["experts"][1]["positive_prompts"]
    _refused(tmp_path, config, "experts.1 .* has no positive_prompts")


def test_random_mode_needs_no_prompts(llama_family, tmp_path):
    config = moe_config(llama_family, "random", experts=2)
    for e in config["experts"]:
        e.pop("positive_prompts"), e.pop("negative_prompts", None)
    assert build_moe(write_config(tmp_path, config), tmp_path / "out").experts == 2


def test_same_expert_models_refused_unless_allowed(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2)
    config["experts"][1]["source_model"] = config["experts"][0]["source_model"]
    _refused(tmp_path, config, "every expert is the same model")


def test_too_few_experts_refused(llama_family, tmp_path):
    _refused(tmp_path, moe_config(llama_family, "cheap_embed", experts=2, experts_per_token=3), "at least as many")


def test_unknown_key_names_the_fix(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2)
    config["experts"][0]["positve_prompts"] = ["x"]
    _refused(tmp_path, config, "experts.0.positve_prompts: unknown key .did you mean 'positive_prompts'")


def test_shared_expert_needs_qwen(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2, architecture="mixtral")
    config["shared_experts"] = [{"source_model": str(llama_family["e2"]), "positive_prompts": ["a"]}]
    _refused(tmp_path, config, "Mixtral has no shared expert")
    _refused(tmp_path, {**config, "architecture": "deepseek"}, "DeepSeek MoE output is not built")


def test_missing_model_and_unsafe_output(llama_family, tmp_path):
    config = moe_config(llama_family, "cheap_embed", experts=2)
    _refused(tmp_path, {**config, "base_model": str(tmp_path / "nowhere")}, "not found", UserError)
    cfg = write_config(tmp_path, config)
    with pytest.raises(UserError, match="inside input model folder"):
        build_moe(cfg, llama_family["e0"] / "moe")
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match="already exists"):
        build_moe(cfg, tmp_path / "out")


def test_cli_one_line_exit_2(llama_family, tmp_path):
    config = moe_config(llama_family, "hidden", experts=2)
    config["experts"][1].update(config["experts"][0], source_model=str(llama_family["e1"]))
    result = CliRunner().invoke(app, ["moe", str(write_config(tmp_path, config)), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "same positive and negative prompts" in result.output


def test_cli_builds(llama_family, tmp_path):
    cfg = write_config(tmp_path, moe_config(llama_family, "cheap_embed", experts=2))
    result = CliRunner().invoke(app, ["moe", str(cfg), str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert "Mixtral, 2 experts x 3 layers" in result.output
