# trainlab: `make help` lists the targets.
SHELL := /bin/bash
comma := ,
space := $(subst ,, )
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := requirements/constraints.txt
LOCK := requirements/lock.txt
TORCH_LOCK := requirements/torch-cpu.txt
PIP_LOCK := requirements/pip.txt
EXTRAS ?= dev,tracking,sweeps,dp,spectra,text,text-pretrained
STAMP := $(VENV)/.installed
# `make test` runs on pytest-xdist workers, one per core ("auto"); tests sharing the SLURM
# cluster, the Docker engine or a session's reference run stay on one worker (tests/conftest.py)
TEST_WORKERS ?= auto
# `make lock` only: the resolver (uv compiles this project's ~190 pins in ~20 s, pip-tools did
# not finish in 13 min here); `make install` needs nothing but pip
UV_VERSION := 0.13.9
# where pip finds the pinned CPU torch wheel (pip's own find-links); uv does not read pip's config
WHEELS ?= $(shell python3 -m pip config get global.find-links 2>/dev/null)

.DEFAULT_GOAL := help
.PHONY: help install lock train test test-full test-slurm test-container lint format bench docker clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(LOCK) $(TORCH_LOCK) $(PIP_LOCK)
	@test -x $(PY) || python3 -m venv $(VENV)
	# the pinned pip first: a venv's own pip is whatever Python shipped (23.2 here)
	$(PIP) install -q --require-hashes -r $(PIP_LOCK)
	# exact versions and sha256 hashes only (requirements/README.md); torch is the CPU build
	$(PIP) install -q --require-hashes -r $(TORCH_LOCK) -r $(LOCK)
	$(PIP) install -q --no-deps -e .
	@touch $(STAMP)

install: $(STAMP) ## create .venv if missing and install the locked versions (hashes checked)

lock: ## re-resolve requirements/lock.txt and torch-cpu.txt from pyproject.toml (needs PyPI)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q "uv==$(UV_VERSION)"
	# one resolution for this platform (Linux x86_64, Python 3.11) with torch held at the
	# constraints file's pin: the CPU wheel pip serves here, so no CUDA package enters the lock
	$(VENV)/bin/uv pip compile -q pyproject.toml --extra $(subst $(comma),$(space)--extra$(space),$(EXTRAS)) \
		-c $(CONSTRAINTS) $(if $(WHEELS),--find-links $(WHEELS)) \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
		--no-emit-package torch --custom-compile-command "make lock" -o $(LOCK)
	echo pip | $(VENV)/bin/uv pip compile -q - --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" -o $(PIP_LOCK)
	# torch alone, with the sha256 of the wheel served here (uv hashes a local wheel only when
	# it resolves dependencies, so they are resolved and dropped); Docker installs a CUDA build
	# under the same pin instead (requirements/README.md)
	@{ echo "# torch at the pin of $(CONSTRAINTS), CPU build; written by \`make lock\`"; \
	  $(VENV)/bin/uv pip compile -q $(CONSTRAINTS) $(if $(WHEELS),--find-links $(WHEELS)) \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
		--no-annotate --no-header | awk '/^torch==/ {keep = 1; print; next} /^[^ ]/ {keep = 0} keep'; \
	} > $(TORCH_LOCK).tmp && grep -q -- '--hash=sha256:' $(TORCH_LOCK).tmp && mv $(TORCH_LOCK).tmp $(TORCH_LOCK)

train: $(STAMP) ## split the embedded digits data set and train the default experiment on it
	$(VENV)/bin/trainlab split data_dir=data/digits embedded=digits skip_existing=true
	$(VENV)/bin/trainlab train $(ARGS)

test: $(STAMP) ## run the default test suite (everything but tests marked slow)
	$(PY) -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadgroup --durations=15 $(ARGS)

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
