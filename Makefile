# The README's commands. Each target creates the virtual environment it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# constraints.txt pins torch to the CPU build on the project's machines.
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP_INSTALL) -e ".[test,lint]"
	touch $@

demo: $(VENV)/.installed  ## the main job: train, print per-task accuracy, save, reload
	$(BIN)/python examples/quickstart.py

test: $(VENV)/.installed  ## the test suite, doctests and README included
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check sk_mtgru tests examples tools benchmarks docs
	$(BIN)/ruff format --check sk_mtgru tests examples tools benchmarks docs

clean:
	rm -rf $(VENV) build *.egg-info
