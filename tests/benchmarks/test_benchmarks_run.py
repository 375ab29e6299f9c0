"""Every script under benchmarks/, studies/ and tools/ (and the predict rehearsal) still runs, so a rename in the package cannot break one silently.

Two checks, both in CI:
- every name a benchmark takes from the package (`from patch2loc.x import y`, and `H.attr` on a
  module it imported as `H`) or from a neighbouring script exists: a static read of each file,
  for the studies and tools that need a finished run, a checkout or a GPU to do anything;
- each speed benchmark runs in its tiny mode (the same code paths on inputs of a few voxels) in a
  child process and prints its ratio or its timings. bench_gpu.py has its own test
  (tests/gpu/test_bench_gpu_tiny.py).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
FOLDERS = (BENCHMARKS, REPO / "studies", REPO / "tools")
PREDICT_REHEARSAL = REPO / "rehearsals" / "predict.py"
SCRIPTS = sorted(p for f in FOLDERS for p in f.rglob("*.py") if p.name != "__init__.py") + [PREDICT_REHEARSAL]

# script -> (arguments of its tiny mode, a line its output must hold); "{work}" is a fresh folder
TINY = {
    "bench_grading.py": (["--tiny"], "thread scaling (unsupervised)"),
    "bench_heatmap.py": (["--tiny"], "speed-up per volume (a)/(b)"),
    "bench_dae.py": (["--tiny"], "steps/s"),
    "bench_diffusion.py": (["--tiny"], "steps/s"),
    "bench_lesion_metrics.py": (["--tiny"], "scipy.ndimage.label"),
    "bench_lesion_stage.py": (["--tiny", "{work}"], "added in all"),
    "bench_native_space.py": (["--tiny", "--workdir", "{work}"], "native grid"),
    "bench_scheduler.py": (["--tiny"], "greedy's rounds as shipped / with one re-plan"),
    "bench_subject_lists.py": (["--tiny"], "speed-up (parsed each call / once)"),
    "bench_train.py": (["--tiny"], "steps/s"),
    "bids_indexing.py": (["--participants", "2", "--repeats", "1", "--work", "{work}"], "4 T2w scans found"),
}
# the others, and why they are read rather than run here
READ_ONLY = {
    "anatomy_ablation.py": "a study over four finished demo runs (tests/synth/test_anatomy_ablation_table.py)",
    "authors_heatmap.py": "a library of bench_heatmap.py and gpu/, run with it",
    "bench_contrast_alignment.py": "a study: registers demo subjects (minutes)",
    "bench_gpu.py": "its own tiny test: tests/gpu/test_bench_gpu_tiny.py",
    "bench_viewer.py": "needs headless Chromium",
    "bids_demo.py": "needs a trained bundle",
    "challenge_official.py": "needs the three challenges' official checkouts",
    "challenge_official_cases.py": "a library of challenge_official.py",
    "challenge_official_runner.py": "needs the three challenges' official checkouts",
    "configs_unchanged.py": "compares with a git commit's configs",
    "deviation_ablation.py": "a study over make demo-long and its arms (tests/methods/test_deviation_ablation_table.py)",
    "demo_seeds.py": "retrains a finished demo run's models (tests/evaluation/test_seed_study_grading.py)",
    "hostile_memory_budget.py": "trains a small run and refuses five budget cases (minutes)",
    "settings_reference.py": "run by its own test: tests/static/test_settings_reference.py (--check)",
    "ship_anatomy_steps.py": "reruns ROBEX and two 1 mm registrations (minutes; tests/synth/test_anatomy_steps.py)",
    "kernel_dispatch.py": "reads a finished demo run",
    "precision_effect.py": "reads a finished run",
    "predict.py": "the predict rehearsal: trains a small real-size run (minutes)",
    "seed_grading.py": "a library of demo_seeds.py (tests/evaluation/test_seed_study_grading.py)",
    "tables_unchanged.py": "compares two finished runs (tests/report/test_tables_unchanged.py)",
    "train_sanity.py": "a study: 1,000 steps to show the location error falling, exit 1 when it does not",
    "transfer_real.py": "reads a finished run and the real scans (tests/predict/test_transfer_benchmark.py)",
}


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _resolve(module: str, name: str):
    """The object `from module import name` gives, or None when there is none."""
    try:
        parent = importlib.import_module(module)
    except ImportError:
        return None
    if hasattr(parent, name):
        return getattr(parent, name)
    try:
        return importlib.import_module(f"{module}.{name}")
    except ImportError:
        return None


def missing_names(path: Path) -> list[str]:
    """'file:line: what' for each package or neighbour name the script uses that does not exist."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel, missing, aliases = path.relative_to(path.parents[1]).as_posix(), [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "patch2loc":
                    try:
                        module = importlib.import_module(a.name)
                    except ImportError as err:
                        missing.append(f"{rel}:{node.lineno}: import {a.name} ({err})")
                        continue
                    if a.asname:
                        aliases[a.asname] = module
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            top = node.module.split(".")[0]
            neighbour = path.parent / f"{node.module}.py"
            for a in node.names:
                if top == "patch2loc":
                    got = _resolve(node.module, a.name)
                    if got is None:
                        missing.append(f"{rel}:{node.lineno}: from {node.module} import {a.name}")
                    elif isinstance(got, ModuleType):
                        aliases[a.asname or a.name] = got
                elif neighbour.exists() and a.name not in _top_level_names(neighbour):
                    missing.append(f"{rel}:{node.lineno}: from {node.module} import {a.name} (not in {neighbour.name})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if not hasattr(aliases[node.value.id], node.attr):
                missing.append(f"{rel}:{node.lineno}: {node.value.id}.{node.attr} ({aliases[node.value.id].__name__})")
    return missing


def test_every_script_is_run_or_read():
    named = set(TINY) | set(READ_ONLY)
    top = {p.name for p in SCRIPTS if p.parent in FOLDERS or p == PREDICT_REHEARSAL}
    assert top == named, f"run: {sorted(top - named)}; gone: {sorted(named - top)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.relative_to(REPO).as_posix() for p in SCRIPTS])
def test_every_name_a_benchmark_uses_exists(script):
    assert missing_names(script) == []


def test_a_renamed_name_is_found(tmp_path):
    (tmp_path / "helper.py").write_text("def there():\n    pass\n", encoding="utf-8")
    script = tmp_path / "bench_x.py"
    script.write_text(
        "from patch2loc.checks import devices as D\n"
        "from patch2loc.checks.devices import resolve_device, gone_function\n"
        "from helper import there, not_there\n"
        "import patch2loc.no_such_module\n"
        "D.resolve_device(None), D.gone_attribute\n",
        encoding="utf-8",
    )
    found = missing_names(script)
    assert [line.split(": ", 1)[1].split(" (")[0] for line in found] == [
        "from patch2loc.checks.devices import gone_function",
        "from helper import not_there",
        "import patch2loc.no_such_module",
        "D.gone_attribute",
    ], found


# One child runs every tiny mode in turn (each as `__main__`, with its own argv and output), so torch
# and the other libraries are imported once rather than once per benchmark.
RUNNER = """
import contextlib, io, json, runpy, sys, traceback
results = {}
for script, args in json.loads(sys.argv[1]):
    out = io.StringIO()
    sys.argv = [script, *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        out.write(traceback.format_exc())
        code = 1
    results[script] = [code, out.getvalue()]
print(json.dumps(results))
"""


def run_tiny_modes(scripts: dict[str, list[str]], work: Path, folder: Path = BENCHMARKS) -> dict[str, tuple[int, str]]:
    """{script: (exit status, what it printed)} for each script of `folder` run with its arguments."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), str(folder)])}
    jobs = [[str(folder / name), args] for name, args in scripts.items()]
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(jobs)],
        cwd=work,
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {Path(k).name: tuple(v) for k, v in json.loads(proc.stdout.splitlines()[-1]).items()}


@pytest.mark.starts_first
@pytest.mark.slow
def test_every_tiny_mode_runs_and_prints_its_numbers(tmp_path):
    scripts = {name: [a.replace("{work}", str(tmp_path / name)) for a in args] for name, (args, _) in TINY.items()}
    results = run_tiny_modes(scripts, tmp_path)
    failed = {name: out[-2000:] for name, (code, out) in results.items() if code != 0 or TINY[name][1] not in out}
    assert not failed, "\n\n".join(f"{name}:\n{out}" for name, out in failed.items())
    assert set(results) == set(TINY)


def test_a_broken_benchmark_is_reported(tmp_path):
    (tmp_path / "bench_ok.py").write_text("print('ratio 2.0')\n", encoding="utf-8")
    (tmp_path / "bench_broken.py").write_text("from patch2loc.checks.devices import gone\n", encoding="utf-8")
    results = run_tiny_modes({"bench_ok.py": [], "bench_broken.py": []}, tmp_path, folder=tmp_path)
    assert results["bench_ok.py"] == (0, "ratio 2.0\n")
    assert results["bench_broken.py"][0] == 1 and "ImportError" in results["bench_broken.py"][1]
