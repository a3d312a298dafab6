# zen-neural: every target sets up .venv on first use, then reuses it.
# `make demo` runs the main job on bundled data; `make test` runs the fast test suite.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The stamp is rebuilt when the dependency list changes, so a second `make` installs nothing.
STAMP := $(VENV)/.zen-installed
BENCH_STAMP := $(VENV)/.zen-bench-installed
EXTRAS ?= dev
TORCH_PIN := torch==2.13.0

.PHONY: demo test test-all doctest bench bench-quick lint format clean help system-deps train-assistant

help:
	@echo "make demo      train on bundled data with 'zen fit' and show where the report is"
	@echo "make test      lint, types, doctests and the fast test suite (what CI runs)"
	@echo "make test-all  every test, slow ones included"
	@echo "make bench     benchmarks against the peers; results in bench/results, see BENCHMARKS.md"
	@echo "make bench-quick  every benchmark at smoke-test sizes (do they run?)"
	@echo "make lint      ruff check + format check + mypy + import layers"
	@echo "make system-deps  Debian's FANN library, for the FANN benchmark and tests"
	@echo "make train-assistant  fetch Debian game music, retrain the mastering assistant's weights"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# Pinned first: a CPU build of this torch is on our machines; anything unpinned pulls CUDA.
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

demo: $(STAMP)
	$(PY) scripts/demo.py

# What CI runs (.ci/run): lint, formatting, types, the docstring examples of src/zen, then the
# fast tests. Lint comes first because it fails in seconds.
test: $(STAMP) lint doctest
	@# pytest exits 5 when it collects nothing; make treats any non-zero exit as failure.
	$(PY) -m pytest -m "not slow" -q

# The `>>>` examples in src/zen's docstrings (tests/ has its own run above).
doctest: $(STAMP)
	$(PY) -m pytest --doctest-modules src/zen -q -p no:cacheprovider

test-all: $(STAMP) lint doctest
	$(PY) -m pytest -q

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $@

# FANN (C library and its Python binding for the system Python) from Debian, for the FANN
# benchmark and the FANN compatibility tests (which skip without it). Best effort: needs apt + root.
system-deps:
	@if [ -f /usr/include/fann.h ] && /usr/bin/python3 -c 'import fann2' 2>/dev/null; then \
		echo "FANN already installed"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq libfann-dev python3-fann2; \
	else \
		echo "install libfann-dev and python3-fann2 (Debian/Ubuntu) for the FANN benchmark"; \
	fi

# BENCH_ARGS passes options on: `make bench BENCH_ARGS="--quick fann"`.
bench: $(BENCH_STAMP) system-deps
	$(PY) bench/run_all.py $(BENCH_ARGS)

# Every benchmark at smoke-test sizes: checks that they run, not what they measure.
bench-quick: $(BENCH_STAMP) system-deps
	$(PY) bench/run_all.py --quick $(BENCH_ARGS)

# The mastering assistant (zen.audio.assistant): music from Debian packages into data/ (never
# committed), cached features, the FFT-size study, weights into src/zen/audio/weights.
train-assistant: $(STAMP)
	$(PY) tools/fetch_training_audio.py
	$(PY) tools/train_assistant.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache bench/build
