"""A recipe's `chat_template`, with mergekit 0.1.5's meaning: `auto`, a built-in name, or a literal Jinja template.

- `auto`: the template most of the merged models use (base model first, then recipe order break ties); when none
  of them has one, the output keeps the tokenizer's own.
- a built-in name (`alpaca`, `chatml`, `exaone`, `llama3`, `mistral`): that format, rendering as mergekit's
  template of the same name does (transformers' Jinja settings: trim_blocks, lstrip_blocks).
- anything else must look like a Jinja template (at least 20 characters and a `{`), and is written as given.

The template is written as transformers 5 writes it (chat_template.jinja, which transformers reads first) and into
tokenizer_config.json (where transformers 4 before 4.43 reads it), so both generations load the same template.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from modelfusion.errors import RecipeError

_CHATML = r"""{%- for message in messages -%}
{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\n' -}}
{%- endif -%}
"""

_LLAMA3 = r"""{%- for message in messages -%}
{%- if loop.first -%}{{- bos_token -}}{%- endif -%}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' -}}
{{- message['content'] | trim -}}
{{- '<|eot_id|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%}
"""

_MISTRAL = r"""{%- set ns = namespace(system=none, turns=messages) -%}
{%- if messages and messages[0]['role'] == 'system' -%}
{%- set ns.system = messages[0]['content'] -%}
{%- set ns.turns = messages[1:] -%}
{%- endif -%}
{{- bos_token -}}
{%- for message in ns.turns -%}
{%- if (message['role'] == 'user') != loop.index0 is even -%}
{{- raise_exception('After an optional system message, roles must alternate user/assistant/user/...') -}}
{%- endif -%}
{%- if message['role'] == 'user' -%}
{%- if loop.first and ns.system is not none -%}
{{- ' [INST] ' + ns.system + '\n\n' + message['content'] + ' [/INST]' -}}
{%- else -%}
{{- ' [INST] ' + message['content'] + ' [/INST]' -}}
{%- endif -%}
{%- elif message['role'] == 'assistant' -%}
{{- ' ' + message['content'] + eos_token -}}
{%- else -%}
{{- raise_exception('Only user and assistant roles are supported, after an optional system message') -}}
{%- endif -%}
{%- endfor -%}
"""

_ALPACA = r"""{%- set systems = messages | selectattr('role', 'equalto', 'system') | list -%}
{%- set headers = {'user': 'Instruction', 'assistant': 'Response', 'user_context': 'Input'} -%}
{{- (systems[-1]['content'] | trim if systems else '') + '\n\n' -}}
{%- for message in messages -%}
{%- if message['role'] in headers -%}
{{- '### ' + headers[message['role']] + ':\n' + message['content'] | trim -}}
{{- '' if loop.last else '\n\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt and messages[-1]['role'] != 'assistant' -%}
{{- '### Response:\n' -}}
{%- endif -%}
"""

_EXAONE = r"""{%- for message in messages -%}
{%- if loop.first and message['role'] != 'system' -%}
{{- '[|system|][|endofturn|]\n' -}}
{%- endif -%}
{{- '[|' + message['role'] + '|]' + message['content'] -}}
{{- '\n' if message['role'] == 'user' else '[|endofturn|]\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '[|assistant|]' -}}
{%- endif -%}
"""

BUILTIN: dict[str, str] = {
    "alpaca": _ALPACA,
    "chatml": _CHATML,
    "exaone": _EXAONE,
    "llama3": _LLAMA3,
    "mistral": _MISTRAL,
}
TEMPLATE_FILE = "chat_template.jinja"


def check_chat_template(value: str | None, where: str | None = None) -> None:
    """Refuse a `chat_template` that is neither `auto`, a built-in name nor a Jinja template (as mergekit)."""
    if value is None or value == "auto" or value in BUILTIN:
        return
    if len(value) < 20 or "{" not in value:
        names = ", ".join(BUILTIN)
        raise RecipeError(
            f"chat_template {value!r} is not 'auto', a built-in template ({names}) nor a Jinja template",
            where,
        )


def read_chat_template(folder: Path | None) -> str | None:
    """The default chat template of the tokenizer in `folder`: chat_template.jinja, else tokenizer_config.json."""
    if folder is None:
        return None
    if (folder / TEMPLATE_FILE).is_file():
        return (folder / TEMPLATE_FILE).read_text(encoding="utf-8")
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    template = config.get("chat_template") if isinstance(config, dict) else None
    if isinstance(template, list):  # named templates: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) and template else None


def chosen_template(value: str | None, folders: Iterable[Path | None]) -> str | None:
    """The template text `value` asks for (None: keep the tokenizer's own)."""
    if value is None:
        return None
    if value == "auto":
        found = [t.strip() for t in map(read_chat_template, folders) if t]
        return Counter(found).most_common(1)[0][0] if found else None
    return BUILTIN.get(value, value)


def write_chat_template(folder: Path, template: str) -> None:
    """Write `template` as the tokenizer's chat template in `folder` (chat_template.jinja + tokenizer_config.json)."""
    (folder / TEMPLATE_FILE).write_text(template, encoding="utf-8")
    config_file = folder / "tokenizer_config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config["chat_template"] = template
        config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    processor_file = folder / "chat_template.json"  # a processor's template (multimodal models)
    if processor_file.is_file():
        processor_file.write_text(json.dumps({"chat_template": template}, indent=2) + "\n", encoding="utf-8")
