"""The model card (README.md) and the library versions written beside a fitted ensemble."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from modelfusion.version import __version__


def versions(with_torch: bool) -> dict[str, str]:
    """Versions of python, modelfusion and the libraries that built the file (torch only when a member uses it)."""
    out = {"python": platform.python_version(), "modelfusion": __version__}
    for dist in ("scikit-learn", "skops", "numpy", *(["torch"] if with_torch else [])):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _params(member: Any) -> str:
    """The member's non-default parameters, as scikit-learn prints them."""
    text = " ".join(repr(member).split())
    return text.replace("|", "\\|")


def model_card(manifest: dict[str, Any], ensemble: Any, config_text: str) -> str:
    """Markdown: what the ensemble is, its members, CV scores (when computed), how to use it, the config, versions."""
    inp = manifest["input"]
    reads = f"text column `{inp['text']}`" if inp["text"] else f"{len(inp['features'])} numeric features"
    lines = [
        "---",
        "library_name: modelfusion",
        "tags: [modelfusion, ensemble, scikit-learn]",
        "---",
        "",
        f"# {manifest['combiner']} ensemble of {len(manifest['members'])} members",
        "",
        f"A fitted `{type(ensemble).__name__}` ({manifest['task']}), written by `modelfusion ensemble fit` from "
        f"`{manifest['config']}`; trained on {manifest['n_train']} rows of `{manifest['data']}`, label "
        f"`{manifest['label']}`. It reads the {reads}.",
        "",
        "## Members",
        "",
        "| name | estimator |",
        "|---|---|",
        *(f"| {name} | `{_params(m)}` |" for name, m in ensemble.named_estimators_.items()),
        "",
    ]
    if hasattr(ensemble, "final_estimator_"):
        lines += [f"Final estimator: `{_params(ensemble.final_estimator_)}`.", ""]
    cv = manifest.get("cv")
    if cv:
        lines += [
            f"## Cross-validation ({cv['folds']}-fold, {cv['metric']}, before the final fit)",
            "",
            f"| model | {cv['metric']} | ± std |",
            "|---|---|---|",
            *(f"| {n} | {m['mean']:.4f} | {m['std']:.4f} |" for n, m in cv["members"].items()),
            f"| **ensemble** | **{cv['ensemble']['mean']:.4f}** | {cv['ensemble']['std']:.4f} |",
            "",
        ]
    else:
        lines += ["Cross-validation: not run (`modelfusion ensemble fit --cv` adds it).", ""]
    lines += [
        "## Use",
        "",
        "```",
        "modelfusion ensemble predict THIS_FOLDER data.csv --output predictions.csv",
        "```",
        "",
        "`ensemble.skops` is a skops file (no pickle); `manifest.json` lists the inputs, classes and its sha256.",
        "",
        "## Config",
        "",
        "```yaml",
        config_text.rstrip(),
        "```",
        "",
        "## Versions",
        "",
        *(f"- {k}: {v}" for k, v in manifest["versions"].items()),
        "",
    ]
    return "\n".join(lines)
