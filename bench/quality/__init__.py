"""The multi-task merging benchmark (docs/quality.md): its corpora, tasks, fine-tuning recipe, cache and runner.

Run it as `python -m bench.quality.run [--quick]` from the repository root. Everything a library user calls
(tasks, splits, metrics, scoring a model folder) is in `modelfusion.evaluate`; this package only adds what is
particular to the benchmark: which corpora, how the task models are fine-tuned, and where they are cached.
"""
