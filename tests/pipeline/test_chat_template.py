"""A recipe's `chat_template` (mergekit 0.1.5's meaning: `auto`, a built-in name or a Jinja string) is written into
the output tokenizer, where transformers reads it back; an invalid one is one line before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelfusion.checkpoint.chat_templates import BUILTIN, chosen_template, read_chat_template
from modelfusion.cli.main import app
from tests.tiny_tokenizers import save_worded_llama

runner = CliRunner()
WORDS = ["hello", "world", "merge"]
TEMPLATE_A = "{% for m in messages %}A:{{ m['content'] }}{% endfor %}"
TEMPLATE_B = "{% for m in messages %}B:{{ m['content'] }}{% endfor %}"
PEERS = Path(__file__).parents[2] / ".peers"
MERGEKIT_TEMPLATES = PEERS / "mergekit/lib/python3.11/site-packages/mergekit/_data/chat_templates"


@pytest.fixture(scope="module")
def llamas(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("chat")
    return [save_worded_llama(root / f"m{i}", WORDS, seed=i) for i in range(3)]


def with_template(folder: Path, dest: Path, template: str | None) -> Path:
    """A copy of `folder` (symlinked files) whose tokenizer has `template` (chat_template.jinja)."""
    dest.mkdir()
    for f in folder.iterdir():
        (dest / f.name).symlink_to(f)
    if template is not None:
        (dest / "chat_template.jinja").write_text(template)
    return dest


def merge(tmp_path: Path, models: list[Path], chat_template: str | None, *args: str):
    recipe = {"merge_method": "linear", "base_model": str(models[0]), "models": [{"model": str(m)} for m in models]}
    if chat_template is not None:
        recipe["chat_template"] = chat_template
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return runner.invoke(app, ["merge", str(path), str(tmp_path / "out"), "-q", *args])


def loaded_template(folder: Path) -> str | None:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder)).chat_template


def render(template: str, messages: list[dict], generation: bool) -> str:
    from transformers.utils.chat_template_utils import _compile_jinja_template

    env = {"bos_token": "<s>", "eos_token": "</s>"}
    return _compile_jinja_template(template).render(messages=messages, add_generation_prompt=generation, **env)


def test_a_builtin_name_is_written_where_transformers_reads_it(llamas, tmp_path):
    result = merge(tmp_path, llamas[:2], "chatml")
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert (out / "chat_template.jinja").read_text() == BUILTIN["chatml"]
    assert json.loads((out / "tokenizer_config.json").read_text())["chat_template"] == BUILTIN["chatml"]
    assert loaded_template(out) == BUILTIN["chatml"]
    text = render(loaded_template(out), [{"role": "user", "content": "hi"}], True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_a_literal_template_is_written_as_given(llamas, tmp_path):
    result = merge(tmp_path, llamas[:2], TEMPLATE_A)
    assert result.exit_code == 0, result.output
    assert loaded_template(tmp_path / "out") == TEMPLATE_A


def test_auto_takes_the_template_most_models_use(llamas, tmp_path):
    models = [
        with_template(llamas[0], tmp_path / "a", TEMPLATE_A),
        with_template(llamas[1], tmp_path / "b", TEMPLATE_B),
        with_template(llamas[2], tmp_path / "c", TEMPLATE_B + "\n"),  # compared stripped, as mergekit
    ]
    result = merge(tmp_path, models, "auto")
    assert result.exit_code == 0, result.output
    assert loaded_template(tmp_path / "out") == TEMPLATE_B


def test_auto_with_no_template_keeps_the_tokenizer_as_it_is(llamas, tmp_path):
    result = merge(tmp_path, llamas[:2], "auto")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out" / "chat_template.jinja").exists()
    assert chosen_template("auto", llamas) is None


def test_read_chat_template_from_tokenizer_config(tmp_path):
    named = [{"name": "default", "template": "X"}]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": named}))
    assert read_chat_template(tmp_path) == "X"
    (tmp_path / "chat_template.jinja").write_text("Y")  # transformers reads the .jinja file first
    assert read_chat_template(tmp_path) == "Y"


@pytest.mark.parametrize("value", ["chatmlx", "{{ short }}", "not a template at all, no braces"])
def test_an_invalid_chat_template_is_one_line_and_nothing_is_written(llamas, tmp_path, value):
    result = merge(tmp_path, llamas[:2], value)
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "chat_template" in lines[0] and "recipe.yaml" in lines[0] and "chatml" in lines[0]
    assert not (tmp_path / "out").exists()


CONVERSATIONS = [
    [{"role": "user", "content": " hi "}],
    [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello "},
        {"role": "user", "content": "q"},
    ],
    [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
    [{"role": "system", "content": "s"}, {"role": "user_context", "content": "ctx"}, {"role": "user", "content": "u"}],
]


@pytest.mark.parametrize("name", ["alpaca", "chatml", "llama3", "mistral"])
def test_builtin_templates_render_as_mergekits(name):
    """Same text as mergekit 0.1.5's template of that name (exaone differs: mergekit's emits indentation)."""
    theirs = MERGEKIT_TEMPLATES / f"{name}.jinja"
    if not theirs.is_file():
        pytest.skip("mergekit 0.1.5 is not installed in .peers (make peers)")
    for conversation in CONVERSATIONS:
        for generation in (False, True):
            try:
                expected = render(theirs.read_text(), conversation, generation)
            except Exception as e:  # mistral refuses some role orders: so must ours
                with pytest.raises(type(e)):
                    render(BUILTIN[name], conversation, generation)
                continue
            assert render(BUILTIN[name], conversation, generation) == expected


def test_exaone_renders_exaone_turns():
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    expected = "[|system|][|endofturn|]\n[|user|]hi\n[|assistant|]yo[|endofturn|]\n[|assistant|]"
    assert render(BUILTIN["exaone"], messages, True) == expected
