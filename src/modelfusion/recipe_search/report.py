"""search_report.md: the best trial, validation vs test with the gap, the top trials, Optuna's plots (PNG)."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from modelfusion.recipe_search.outputs import atomic_write
from modelfusion.recipe_search.summary import SearchSummary

PLOTS = {
    "optimization_history": "plot_optimization_history",
    "param_importances": "plot_param_importances",
    "parallel_coordinate": "plot_parallel_coordinate",
}


def _fmt(v: object) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def write_plots(out: Path, study: optuna.Study) -> dict[str, str]:
    """Each plot Optuna can draw for this study (matplotlib backend); a plot it cannot draw is left out."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as ovm
    except ImportError:
        return {}
    made = {}
    for name, fn in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = getattr(ovm, fn)(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.savefig(out / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(fig)
            made[name] = f"{name}.png"
        except Exception:  # too few complete trials, or a single parameter for importances
            continue
    return made


def write_report(out: Path, study: optuna.Study, summary: SearchSummary, plots: bool = True) -> Path:
    lines = [
        "# modelfusion search report",
        "",
        f"- sampler: `{summary.sampler}`, direction: {summary.direction}, storage: `{summary.storage}`",
        f"- trials: {', '.join(f'{n} {s.lower()}' for s, n in summary.states.items()) or 'none'}",
        f"- inputs held in memory across trials: {'yes' if summary.input_in_memory else 'no (streamed per trial)'}",
        "",
        "## Best trial",
        "",
    ]
    if summary.best_number is None:
        lines.append("No trial completed.")
    else:
        lines += [
            f"Trial {summary.best_number}; recipe: `best.yaml` (`modelfusion merge {out / 'best.yaml'} MODEL_OUT`).",
            "",
            "| split | value |",
            "|---|---|",
            f"| validation (optimised) | {_fmt(summary.best_value)} |",
            f"| test (scored once) | {_fmt(summary.test_value)} |",
            f"| gap (validation - test) | {_fmt(summary.gap)} |",
            "",
            "| parameter | value |",
            "|---|---|",
            *[f"| `{k}` | {_fmt(v)} |" for k, v in summary.best_params.items()],
        ]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    reverse = summary.direction == "maximize"
    top = sorted(complete, key=lambda t: t.value, reverse=reverse)[:10]
    if top:
        names = list(dict.fromkeys(p for t in top for p in t.params))
        lines += ["", "## Top trials (validation)", "", "| trial | value | " + " | ".join(names) + " |"]
        lines.append("|---" * (len(names) + 2) + "|")
        for t in top:
            cells = [_fmt(t.params.get(n, "")) for n in names]
            lines.append(f"| {t.number} | {_fmt(t.value)} | " + " | ".join(cells) + " |")
    failed = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if "error" in t.user_attrs]
    if failed:
        lines += ["", "## Failed trials", ""]
        lines += [f"- trial {t.number}: {t.user_attrs['error'].splitlines()[0]}" for t in failed[:20]]
    made = write_plots(out, study) if plots else {}
    if made:
        lines += ["", "## Plots", ""] + [f"![{name}]({file})" for name, file in made.items()]
    lines += ["", "All trials: `trials.csv`. Live view: `optuna-dashboard " + summary.storage + "`.", ""]
    path = out / "search_report.md"
    atomic_write(path, "\n".join(lines))
    return path
