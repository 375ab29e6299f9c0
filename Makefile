# Two entry points for a fresh clone (Python 3.11, nothing installed):
#   make demo   installs into .venv and runs the synthetic demo end to end
#   make test   installs into .venv and runs the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[demo,workflow,test]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml --resources gpu=1

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

.PHONY: install demo test lint
