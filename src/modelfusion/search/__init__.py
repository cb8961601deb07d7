"""Automated merging: a recipe with ranges in, Optuna trials merged in memory and scored, the best recipe out.

Needs the `search` extra (optuna, cmaes). See docs/search.md.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelfusion.search.config import SearchConfig, SearchSettings, load_search_config
from modelfusion.search.objective import ObjectiveFn
from modelfusion.search.summary import SearchSummary

__all__ = ["SearchConfig", "SearchSettings", "SearchSummary", "load_search_config", "search"]

RUN_OPTIONS = ("merge_best", "memory_budget", "threads", "on_trial", "plots")


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
    threads (per merge), on_trial(study, trial, done, total), plots (PNGs in the report).
    """
    _require_optuna()
    from modelfusion.search.run import run_search

    run = {k: options.pop(k) for k in RUN_OPTIONS if k in options}
    cfg = load_search_config(config, **options)
    return run_search(cfg, Path(out_dir), objective, **run)


def _require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        from modelfusion.errors import UserError

        raise UserError("modelfusion search needs the search extra: pip install 'modelfusion[search]'") from None


class _CallableModule(types.ModuleType):
    """`modelfusion.search` is this package and the function: importing the package sets it as the attribute
    of `modelfusion`, so the package itself is callable, and `modelfusion.search(...)` is `search(...)`."""

    def __call__(self, *args: Any, **kwargs: Any) -> SearchSummary:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
