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

# Without a GPU the "GPU" jobs (training, heatmaps) run on the CPU with one thread each, so as many
# may run side by side as there are cores (the default profile's gpu=1 is for one real GPU).
demo: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml --resources gpu=$(CORES)
	$(BIN)/snakemake --cores 1 --configfile config/demo.yaml --report results/demo/snakemake_report.zip
	-$(BIN)/python -m patch2loc.demo_summary results/demo  # the README's demo table and the demo's checks

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

.PHONY: install demo test lint
