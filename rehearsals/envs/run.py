"""The env rehearsal (make rehearse-envs): the demo DAG at seconds scale, every job in an environment
built from its rule's env file alone, through Snakemake's own `--sdm conda` (a stand-in conda
builds the envs: rehearsals/envs/conda.py); then the removal checks. Exit 0 only if every job ran
in its env's packages only and every removal made its job fail. docs/env-rehearsal.md says what
this proves and what only a conda solve would.

    python -m rehearsals.envs.run [--cores N] [--out results/rehearsal-envs] [--envs DIR]

Writes under OUT: the stand-in conda (conda/), the envs (envs/), the config (config.yaml), the
logs of env creation and of the run, the guard's records, summary.txt; the run's results under
results/envs/.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from rehearsals.envs import conda, config, removal, report
from rehearsals.envs.build import refresh_guards
from rehearsals.envs.spec import REPO

RUN = "envs"


def snakemake(out: Path, envs: Path, *args: str, log: str) -> tuple[int, float]:
    """(exit status, seconds) of Snakemake with conda envs in `envs`, output in OUT/<log>."""
    cmd = [sys.executable, "-m", "snakemake", "--sdm", "conda", "--conda-prefix", str(envs)]
    cmd += ["--configfile", str(out / "config.yaml"), *args]
    start = time.time()
    with open(out / log, "w", encoding="utf-8") as fh:
        code = subprocess.run(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT).returncode
    return code, time.time() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsals.envs.run")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/rehearsal-envs"))
    parser.add_argument("--envs", type=Path, help="where the envs are built or reused (default: OUT/envs)")
    args = parser.parse_args(argv)
    out = (REPO / args.out).resolve()
    envs = (REPO / args.envs).resolve() if args.envs else out / "envs"
    shutil.rmtree(out / "records", ignore_errors=True)
    shutil.rmtree(out / "removal-records", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    conda.install(out / "conda")
    if envs.is_dir():
        refresh_guards(envs)
    (out / "config.yaml").write_text(yaml.safe_dump(config.tiny_config(RUN), sort_keys=False), encoding="utf-8")
    os.environ["PATH"] = f"{out / 'conda' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    os.environ["P2L_ENV_RECORD"] = str(out / "records")
    os.environ["P2L_ENV_ALLOW"] = os.pathsep.join(str(REPO / p) for p in ("src", "workflow/scripts"))
    os.environ.pop("PYTHONPATH", None)  # nothing of the host's reaches a job through it
    lines = [f"env rehearsal, {datetime.now():%Y-%m-%d %H:%M}, {machine()}"]
    code, took = snakemake(out, envs, "--conda-create-envs-only", "--cores", "1", log="create.log")
    lines.append(f"envs created: exit {code}, {took:.0f} s (create.log)")
    if code == 0:
        code, took = snakemake(out, envs, "--cores", str(args.cores), "--resources", f"gpu={args.cores}", log="run.log")
        lines.append(f"workflow run: exit {code}, {took:.0f} s (run.log)")
    print("\n".join(lines), flush=True)
    found, held = report.summarize(out, REPO, str(out / "config.yaml")) if code == 0 else ([], False)
    lines += found
    print("\n".join(found), flush=True)
    start = time.time()
    found, removed = removal.run_cases(out, envs, out / "config.yaml", Path("results") / RUN)
    lines += [
        *found,
        f"removal checks: {time.time() - start:.0f} s",
        "env rehearsal: " + ("PASS" if held and removed else "FAIL"),
    ]
    print("\n".join(lines[-2:]))
    (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0 if held and removed else 1


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return f"{model or platform.processor()}, {os.cpu_count()} cores"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
