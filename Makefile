# One entry point for tests, CI and the demo. Everything installs into .venv (and .peers/ for mergekit).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt requirements-federated.txt pyproject.toml | md5sum | cut -c1-8)
MERGEKIT := .peers/mergekit/bin/mergekit-yaml
FUSIONBENCH := .peers/fusionbench/bin/fusion_bench

.PHONY: setup test lint peers data demo bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements-dev.txt requirements-federated.txt pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -r requirements-federated.txt  # flwr pins older typer/rich; see the file
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

$(MERGEKIT):
	$(PY) -m venv .peers/mergekit
	.peers/mergekit/bin/pip install -q torch==2.13.0
	.peers/mergekit/bin/pip install -q mergekit==0.1.5

$(FUSIONBENCH):  # torch first, so fusion-bench keeps the CPU build (it pulls lightning and hydra, no torchvision)
	$(PY) -m venv .peers/fusionbench
	.peers/fusionbench/bin/pip install -q torch==2.13.0
	.peers/fusionbench/bin/pip install -q fusion-bench==0.2.33

peers: $(MERGEKIT) $(FUSIONBENCH)

lint: setup
	$(BIN)/ruff check src tests bench

test: setup peers lint
	$(BIN)/python -m pytest -n 2 tests

# Debian corpora and images of the quality benchmark's tasks (read by bench/quality/corpora; see docs/quality.md).
# Not needed by `make test`: the library ships no data, and the corpus tests use small fixture files.
DATA_FILES := /usr/share/wordnet/data.noun /usr/share/games/fortunes/law /usr/share/dictd/foldoc.dict.dz \
	/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

data:
	@ls $(DATA_FILES) >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q wordnet-base fortunes dict-foldoc dataset-fashion-mnist; }

# Fine-tunes two tasks (cached under bench/.cache/quality/full, shared with the benchmark), merges them with TIES and
# a simple average, prints a table. Run as a module from the repository root so `bench.*` imports resolve.
demo: setup data
	$(BIN)/python -m bench.demo

clean:
	rm -rf $(VENV) .peers build *.egg-info
