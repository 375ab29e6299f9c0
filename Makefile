# Entry points for a fresh clone (Python 3.11, 3.12 or 3.13, nothing installed):
#   make demo            installs into .venv and runs the synthetic demo end to end
#   make test            installs into .venv and runs the tests (make test-fast: the unit tests only;
#                        make test-hostile: the hostile-input batteries)
#   make rehearse-real   the paper path offline: real-layout fixtures served on 127.0.0.1
# The interpreter: PYTHON=... if given, else the first of python3.11, python3.12, python3.13,
# python3 that is 3.11-3.13 (Snakemake 9 needs >= 3.11; 3.11 is the most tested).
SUPPORTED := 3.11 3.12 3.13
PYTHON ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell \
	$(p) -c 'import sys; print("$(p)" if "%d.%d" % sys.version_info[:2] in "$(SUPPORTED)".split() else "")' 2>/dev/null)))
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "No Python 3.11, 3.12 or 3.13 found (python3.11, python3.12, python3.13, python3). Install one, e.g. 'apt-get install python3.11 python3.11-venv' or 'pyenv install 3.11', or pass PYTHON=/path/to/python3.x." >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e ".[demo,workflow,test]"
	@# pip byte-compiles on one core; compileall writes the same caches on every core (-j 0). Its status is
	@# not read: a package's files for newer Pythons do not compile (pip skips them the same way).
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > $(VENV)/compileall.log 2>&1 || true
	touch $@

install: $(BIN)/.installed

# Without a GPU the "GPU" jobs (trainings, Patch2Loc and DAE scoring) run on the CPU with one thread
# each, so as many may run side by side as there are cores (the default profile's gpu=1 is for one
# real GPU). Its checks: demo_summary (location fit, Patch2Loc vs Thresh; the DAE is reported).
demo: $(BIN)/.installed
	@echo "make demo: about 15 min on 2 fast cores, an hour or more on older or busy ones (docs/demo.md). Most of it is the two Patch2Loc trainings; each logs its step, rate and ETA: tail -f results/demo/logs/train/*.log"
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml --resources gpu=$(CORES)
	$(BIN)/snakemake --cores 1 --configfile config/demo.yaml --report results/demo/snakemake_report.zip
	$(BIN)/python -m patch2loc.evaluation.report.demo_summary results/demo  # the demo's table, then the checks: exit 1 if one fails

# The demo that shows the methods working: 3,000 Patch2Loc steps per model instead of 900, 10 MSLUB
# volumes instead of 4, the DAE, DDPM, pDDPM, cDDPM, AE and VAE beside Patch2Loc and Thresh (its time:
# docs/measurements.md);
# its checks need Patch2Loc >= 2x Thresh on ATLAS_v2 and WMH, > 1x on BraTS21 (docs/demo.md (Anatomy)
# section 5) and MSLUB (at the chance floor: docs/demo.md, "MSLUB sits at the chance floor") and rows of the other
# methods (demo_summary --checks long).
LONG = --configfile config/demo.yaml config/demo_long.yaml
demo-long: $(BIN)/.installed
	@echo "make demo-long: about an hour on 2 fast cores, two or more on older or busy ones (docs/demo.md). Each training logs its step, rate and ETA: tail -f results/demo_long/logs/train/*.log results/demo_long/logs/train/*/*.log"
	$(BIN)/snakemake --cores $(CORES) $(LONG) --resources gpu=$(CORES)
	$(BIN)/snakemake --cores 1 $(LONG) --report results/demo_long/snakemake_report.zip
	$(BIN)/python -m patch2loc.evaluation.report.demo_summary results/demo_long --checks long  # exit 1 if a check fails; docs/demo.md's table: add --readme docs/demo.md --block demo-long-table

# The anatomy ablation (docs/demo.md (Anatomy), section 4): four runs of the quick demo with
# every method, one anatomy or three, with and without the calibrated variation; then the table.
ABLATION_ARMS = one one_varied several several_varied
demo-ablation: $(BIN)/.installed
	for arm in $(ABLATION_ARMS); do \
	  $(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml config/ablation/anatomy_$$arm.yaml --resources gpu=$(CORES) || exit 1; \
	done
	$(BIN)/python studies/anatomy_ablation.py $(foreach a,$(ABLATION_ARMS),results/abl_$(a))

# The deviation ablation (docs/protocols.md, "What the deviations cost"): after make demo-long, one
# run per reference convention switched on (config/ablation/deviation_*.yaml), then the table of
# what each costs against the long demo (results/dev_table.md).
DEVIATION_ARMS = full_range thresholds_low thresholds_high equalise midbrain
demo-deviations: $(BIN)/.installed
	test -f results/demo_long/tables/per_volume_metrics.csv || { echo "make demo-deviations: run make demo-long first (results/demo_long)"; exit 2; }
	for arm in $(DEVIATION_ARMS); do \
	  $(BIN)/snakemake --cores $(CORES) --configfile config/ablation/deviation_$$arm.yaml --resources gpu=$(CORES) protocols run_info || exit 1; \
	done
	$(BIN)/python studies/deviation_ablation.py results/demo_long $(foreach a,$(DEVIATION_ARMS),results/dev_$(a)) --out results/dev_table.md

# UTF-8 mode: once seen here, a library loaded during the suite left the test process in an ASCII
# C locale and a later test's text read failed; the tests' own reads and writes name utf-8 as well.
# CI runs this: every test but the rehearsal-like runs marked long (make test-long) and the hostile-input
# batteries marked hostile (make test-hostile), with one end-to-end workflow run
# (tests/workflow/test_workflow_tiny_run.py) and the real tumour scans through predict.
# Test files spread over the cores (pytest-xdist; one file stays on one worker, so its module fixtures
# are built once), in the order tests/conftest.py sets (the minutes-long files first: xdist's own
# reordering by test count would start the one-test tiny run last); the 25 slowest setups and calls
# end the log (--durations).
test: $(BIN)/.installed
	PYTHONUTF8=1 $(BIN)/python -m pytest -q -m "not long and not hostile" -n auto --dist loadfile --no-loadscope-reorder --durations=25

# The rehearsal-like end-to-end runs (the diffusion models' tiny run, the small real-layout
# rehearsal, the workflow run twice for determinism): many minutes each, not in CI.
test-long: $(BIN)/.installed
	PYTHONUTF8=1 $(BIN)/python -m pytest -q -m long

# The unit tests only (the end-to-end ones are marked slow).
test-fast: $(BIN)/.installed
	PYTHONUTF8=1 $(BIN)/python -m pytest -q -m "not slow and not long and not hostile"

# The fast tests (test-fast's) on the floors: every lower bound of pyproject.toml's requirements and
# of its demo and workflow extras (written by `make pins` from envs/packages.yaml), each at the
# oldest release it admits (uv's lowest-direct resolution; the test tools resolved beside them), in a
# venv of its own, from PyPI through uv (which reads no pip settings, so a site's local wheels, e.g. a
# CPU build of torch without its torchvision, cannot stand in); rehearsals.envs.floors checks each is
# installed at its floor first. About 4 GB (torch's CUDA build, as `make install` installs it).
OLDEST ?= .venv-oldest
test-oldest:
	@test -n "$(PYTHON)" || { echo "No Python 3.11, 3.12 or 3.13 found: pass PYTHON=/path/to/python3.x." >&2; exit 2; }
	rm -rf $(OLDEST) && $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip uv
	$(OLDEST)/bin/uv pip compile --quiet --no-header --resolution lowest-direct --python $(OLDEST)/bin/python \
	  --extra demo --extra workflow pyproject.toml -o $(OLDEST)/floors.txt
	$(OLDEST)/bin/uv pip install --quiet --python $(OLDEST)/bin/python -c $(OLDEST)/floors.txt -e ".[demo,workflow,test]"
	$(OLDEST)/bin/python -m rehearsals.envs.floors
	PYTHONUTF8=1 $(OLDEST)/bin/python -m pytest -q -m "not slow and not long and not hostile" -n auto --dist loadfile --no-loadscope-reorder

# The hostile-input batteries (docs/input-safety.md): 206 crafted inputs (controls among them), each through
# the real entry point in a child process, judged on its one-line refusal (the file and the fix), exit
# status, memory and what it left behind; a battery file per core, not in CI. Needs GNU time (apt-get install time). They are
# the files named tests/*/test_battery_*.py, the only ones marked hostile (tests/static/test_battery_rule.py).
test-hostile: $(BIN)/.installed
	PYTHONUTF8=1 $(BIN)/python -m pytest -q -m hostile -n auto --dist loadfile --no-loadscope-reorder

# On a machine with a CUDA GPU: the tests marked gpu (precision paths, device moves, the scoring memory
# predict's budget assumes), then the GPU benchmark at the paper's sizes (docs/gpu.md, with its time on
# an H200), its table printed and its record in results/bench_gpu.json.
test-gpu: $(BIN)/.installed
	PYTHONUTF8=1 $(BIN)/python -m pytest -q -m gpu tests/gpu

bench-gpu: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_gpu.py --out results/bench_gpu.json

# The rules as snakefmt writes them and the Python code as ruff formats and lints it (settings in
# pyproject.toml); `snakefmt Snakefile rules/` and `ruff format $(PY_CODE)` fix the formatting.
PY_CODE = src tests workflow benchmarks studies tools rehearsals
format-check: $(BIN)/.installed
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff format --check $(PY_CODE)
	$(BIN)/ruff check $(PY_CODE)

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

# The Python code's lint (pyproject.toml [tool.ruff]): the package, tests, scripts, benchmarks.
lint-python: $(BIN)/.installed
	$(BIN)/ruff check $(PY_CODE)

# The demo DAG through profiles/slurm on a one-node SLURM cluster started on this machine (root;
# installs slurm-wlm and munge with apt if missing), compared with a local run. Not in CI.
# rehearsals/slurm/README.md says what it does and what it showed.
rehearse-slurm: $(BIN)/.installed
	rehearsals/slurm/run.sh

# Every job of the demo DAG (every method, at seconds scale) in an environment built from its rule's
# env file alone, through Snakemake's --sdm conda with a stand-in conda (no conda here), then one
# package taken out of each env must make its job fail; summary in results/rehearsal-envs/summary.txt
# (docs/env-rehearsal.md: what it proves and what only a conda solve would). About 13 GB of envs.
rehearse-envs: $(BIN)/.installed
	nice -n 5 $(BIN)/python -m rehearsals.envs.run --cores $(CORES)

# The env files' and pyproject.toml's bounds from the versions that ran (envs/tested.yaml): after
# make rehearse-envs, from its envs and this .venv; writes envs/cpu/ too. `pins-check` writes nothing.
pins: $(BIN)/.installed
	$(BIN)/python -m rehearsals.envs.pins results/rehearsal-envs/envs

pins-check: $(BIN)/.installed
	$(BIN)/python -m rehearsals.envs.pins --check

# The container route's Dockerfile (docs/cluster.md, "Containers"): Snakemake's --containerize from
# the env files, with the CUDA its PyTorch envs are solved for; `dockerfile-check` writes nothing.
dockerfile: $(BIN)/.installed
	$(BIN)/python -m rehearsals.envs.container

dockerfile-check: $(BIN)/.installed
	$(BIN)/python -m rehearsals.envs.container --check

# Fixtures -> loopback server -> download, extract, ROBEX, registration, N4, Nyul, training,
# Table 1, report (config/rehearsal.yaml); summary in results/rehearsal/rehearsal.json.
rehearse-real: $(BIN)/.installed
	PYTHONPATH=src nice -n 10 $(BIN)/python -m rehearsals.real.run --configfile config/rehearsal.yaml --cores $(CORES)

.PHONY: test-oldest dockerfile dockerfile-check bench-gpu test-gpu demo-ablation demo-deviations install demo demo-long test test-long test-fast test-hostile format-check lint lint-python rehearse-slurm rehearse-real rehearse-envs pins pins-check
