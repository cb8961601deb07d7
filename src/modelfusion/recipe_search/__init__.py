"""Automated merging: a recipe with ranges in, Optuna trials merged in memory and scored, the best recipe out.

The public entry point is `modelfusion.search(...)` (this package's `search`, re-exported lazily).

Needs the `search` extra (optuna, cmaes). See docs/search.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelfusion.recipe_search.config import SearchConfig, SearchSettings, load_search_config
from modelfusion.recipe_search.objective import ObjectiveFn
from modelfusion.recipe_search.summary import SearchSummary

__all__ = ["SearchConfig", "SearchSettings", "SearchSummary", "load_search_config", "search"]

RUN_OPTIONS = ("merge_best", "memory_budget", "threads", "on_trial", "plots", "ray")


def search(
    config: str | Path | Mapping,
    out_dir: str | Path,
    objective: ObjectiveFn | None = None,
    **options: Any,
) -> SearchSummary:
    """Search the recipe space of `config` (a file, YAML text or dict) into `out_dir`; the same call continues it.

    `objective(state_dict, split) -> float | dict[str, float]` overrides the config's `search.objective`.
    `options`: any key of the `search:` section (trials, sampler, seed, direction, timeout, workers, storage,
    metric), and merge_best (write OUT/model), memory_budget (bytes of inputs held in memory across trials),
    threads (per merge), on_trial(study, trial, done, total), plots (PNGs in the report), ray (`local`, `auto` or a
    cluster address: trials run on `workers` Ray actors).
    """
    _require_optuna()
    from modelfusion.recipe_search.run import run_search

    run = {k: options.pop(k) for k in RUN_OPTIONS if k in options}
    cfg = load_search_config(config, **options)
    return run_search(cfg, Path(out_dir), objective, **run)


def _require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        from modelfusion.errors import UserError

        raise UserError("modelfusion search needs the search extra: pip install 'modelfusion[search]'") from None
