"""Benchmarks with committed results (never run by CI, not shipped with the package).

bench/quality and bench/demo.py are packages: run them from the repository root as modules, e.g.
`python -m bench.quality.run` or `make demo` (`python -m bench.demo`), so that `bench.*` imports resolve.
bench/speed, bench/diagnostics and bench/ensembles are plain scripts run by path.
"""
