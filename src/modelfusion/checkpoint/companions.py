"""Files that travel with the weights: config, tokenizer, generation config; the model card and recipe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from modelfusion.checkpoint.provenance import PROVENANCE_FILE, ModelSource

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "chat_template.jinja",
    "chat_template.json",
)
OTHER_FILES = (
    "generation_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
OTHER_DIRS = ("1_Pooling", "2_Normalize")

_DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.float64: "float64",
}


def copy_companions(
    source: Path | None, staging: Path, config: dict | None, out_dtype: torch.dtype | None, skip_tokenizer: bool = False
) -> None:
    """Write config.json (with the output dtype) and copy tokenizer and other companion files."""
    if config is not None:
        config = dict(config)
        if out_dtype in _DTYPE_NAMES:
            key = "dtype" if "dtype" in config and "torch_dtype" not in config else "torch_dtype"
            config[key] = _DTYPE_NAMES[out_dtype]
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if source is None:
        return
    names = OTHER_FILES + (() if skip_tokenizer else TOKENIZER_FILES)
    for name in names:
        if (source / name).is_file():
            shutil.copy2(source / name, staging / name)
    for name in OTHER_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, staging / name)


def write_model_card(staging: Path, models: list[ModelSource], recipe_text: str, method: str) -> None:
    """README.md with Hugging Face front matter (base_model: the Hub ids among `models`, tags) and the recipe.

    Models from a local folder are named by their folder name in the body, never by an absolute path; the full
    record of the inputs is modelfusion_provenance.json (modelfusion.checkpoint.provenance)."""
    hub_ids = list(dict.fromkeys(m.hub_id for m in models if m.hub_id))
    front = ["---"]
    if hub_ids:
        front += ["base_model:", *[f"- {json.dumps(m)}" for m in hub_ids]]
    front += ["library_name: transformers", "tags:", "- merge", "- modelfusion", "---", ""]
    body = [
        "# Merged model",
        "",
        f"This model was merged with [modelfusion](https://pypi.org/project/modelfusion/) using the `{method}` method.",
        "",
        "## Models merged",
        "",
        *[f"- {_md_link(m)}" for m in models],
        "",
        "## Recipe",
        "",
        "```yaml",
        recipe_text.rstrip("\n"),
        "```",
        "",
        f"Paths and sha256 of the inputs: `{PROVENANCE_FILE}`.",
        "",
    ]
    (staging / "README.md").write_text("\n".join(front + body), encoding="utf-8")


def _md_link(model: ModelSource) -> str:
    if model.hub_id:
        return f"[{model.hub_id}](https://huggingface.co/{model.hub_id})"
    return f"`{model.card_name}`"
