# The README's commands. Each target creates the virtual environment it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# constraints.txt pins torch to the CPU build on the project's machines.
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: help install demo test docs bench bench-accuracy lint mutation probe clean

help:  ## this list of targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e ".[test,lint,docs]"
	touch $@

# For using the package, not developing it: no test, lint or docs tools.
install: $(BIN)/python  ## the package and its user extras (pandas, plots, safe files, ONNX) in .venv
	$(PIP_INSTALL) ".[pandas,plots,safe,onnx]"

demo: $(VENV)/.installed  ## the main job on the bundled watch data (timing in the README)
	$(BIN)/python examples/watch_demo.py

# Two test processes of one thread each: on two cores, faster than one process of
# two threads (1 min 45 s against 2 min 21 s), which oversubscribe each other.
test: $(VENV)/.installed  ## the test suite, doctests and README included
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2

docs: $(VENV)/.installed  ## the HTML site in docs/_build/html; runs the gallery; warnings are errors
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

bench: $(VENV)/.installed  ## speed against a hand-written loop, MultiOutputClassifier, Keras
	$(PIP_INSTALL) -e ".[bench]"
	$(BIN)/python benchmarks/speed.py --json benchmarks/results/speed.json

bench-accuracy: $(VENV)/.installed  ## the accuracy suite beside the baselines (~20 minutes)
	$(PIP_INSTALL) -e ".[bench]"
	$(BIN)/python benchmarks/accuracy.py --json benchmarks/results/accuracy.json \
		--text benchmarks/results/accuracy.txt

lint: $(VENV)/.installed  ## ruff's checks and formatting, and mypy on the package
	$(BIN)/ruff check sk_mtgru tests examples tools benchmarks docs
	$(BIN)/ruff format --check sk_mtgru tests examples tools benchmarks docs
	$(BIN)/mypy

mutation: $(VENV)/.installed  ## mutation testing: named bugs + a seeded sample (~75 min)
	$(BIN)/python tools/mutation.py

probe: $(VENV)/.installed  ## hostile and careless inputs: files, cache, streams, ONNX
	$(BIN)/python tools/hostile_probe.py | tee benchmarks/results/hostile_probe.txt

clean:  ## remove the environment and every build output
	rm -rf $(VENV) build *.egg-info docs/_build docs/generated docs/auto_examples
