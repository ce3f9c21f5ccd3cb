# trainlab: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
EXTRAS ?= dev,tracking,sweeps,dp,spectra,text,text-pretrained
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install train test test-full test-slurm test-container lint format bench docker clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, from the pinned build; the constraints file keeps every later step on it
	$(PIP) install -q -c $(CONSTRAINTS) "torch==2.13.0"
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv if missing and install trainlab with torch pinned

train: $(STAMP) ## split the embedded digits data set and train the default experiment on it
	$(VENV)/bin/trainlab split data_dir=data/digits embedded=digits skip_existing=true
	$(VENV)/bin/trainlab train $(ARGS)

test: $(STAMP) ## run the default test suite (everything but tests marked slow)
	$(PY) -m pytest -m "not slow" --durations=15 $(ARGS)

test-full: $(STAMP) ## run every test, the slow ones too
	$(PY) -m pytest $(ARGS)

test-slurm: $(STAMP) ## run only the tests on the local SLURM cluster
	$(PY) -m pytest -m slurm $(ARGS)

# `make test` runs these too; they skip (saying why) only where no engine can be started
test-container: $(STAMP) ## build the Docker image on a local Debian base, train and eval in it
	$(PY) -m pytest -m container --durations=0 -rs $(ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check src tests benchmarks scripts train.py eval.py predict.py
	$(VENV)/bin/ruff format --check src tests benchmarks scripts train.py eval.py predict.py

format: $(STAMP) ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts train.py eval.py predict.py
	$(VENV)/bin/ruff format src tests benchmarks scripts train.py eval.py predict.py

bench: $(STAMP) ## run the ratio benchmarks (framework vs plain PyTorch, side by side)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

docker: ## build the Docker image (needs a Docker engine)
	bash docker/build.sh

clean: ## remove caches and build outputs (keeps .venv, data/ and logs/)
	rm -rf .pytest_cache .ruff_cache build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
