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

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

# The demo DAG through profiles/slurm on a one-node SLURM cluster started on this machine (root;
# installs slurm-wlm and munge with apt if missing), compared with a local run. Not in CI.
# rehearsals/slurm/README.md says what it does and what it showed.
rehearse-slurm: $(BIN)/.installed
	rehearsals/slurm/run.sh

.PHONY: install demo test lint rehearse-slurm
