"""The removal checks: take one package a rule needs out of that rule's env file and the rule's job
must fail, saying what is missing, where the host has the package (without the guard the job
would load it from there and succeed). One case per env file.

For the workflow's envs, in a scratch copy of the workflow beside the rehearsal's run (its results
hard-linked, so that only the forced rule runs): the rule's jobs are forced (`--forcerun R --until
R`) with the stripped env file. HD-BET's rule cannot run offline (its weights are downloaded), so
its env is probed instead: the `hd-bet` program and the imports of HD-BET and the skull-strip
module, in the full env (must pass) and in the stripped one (must fail).

    python -m rehearsals.envs.removal OUT CONFIG RUN_ROOT     (RUN_ROOT: results/<run name>)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from rehearsals.envs.spec import REPO

# (env file, package taken out, the rule that needs it, what its job's log must then say); each
# package is one nothing else in its env depends on (a dependency would bring it back).
CASES = (
    ("preprocess", "nilearn", "make_demo_atlas", "No module named 'nilearn'"),
    ("analysis", "nilearn", "viewer_library", "niivue.umd.js not found (it comes with nilearn"),
    ("torch", "surface-distance", "score_lesions", "No module named 'surface_distance'"),  # BraTS21's surface elements
    ("hdbet", "hd-bet", None, "No module named 'HD_BET'"),
)
WORKFLOW = ("Snakefile", "rules", "workflow", "config", "envs", "splits", "src", "profiles")
PROBE = "import sys; sys.path.insert(0, 'src'); import HD_BET.entry_point, nnunetv2, torch; from patch2loc.preprocessing import skullstrip"


def stripped(text: str, package: str) -> str:
    lines = [line for line in text.splitlines(keepends=True) if not re.match(rf"\s*-\s+{re.escape(package)}\b", line)]
    if len(lines) == len(text.splitlines()):
        raise ValueError(f"no line of {package} to take out")
    return "".join(lines)


def scratch(out: Path, env: str, package: str, run_root: Path) -> Path:
    """A copy of the workflow with `package` out of envs/{env}.yaml, and the run's results linked."""
    work = out / "removal" / env
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in WORKFLOW:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy2)(REPO / name, work / name)
    env_file = work / "envs" / f"{env}.yaml"
    env_file.write_text(stripped(env_file.read_text(encoding="utf-8"), package), encoding="utf-8")
    if run_root.exists():
        (work / run_root.parent).mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(REPO / run_root), str(work / run_root)], check=True)
    return work


def rule_case(out: Path, envs: Path, config: Path, case: tuple, run_root: Path, guard=True):
    """(line, held): the rule's forced jobs with the package out of its env must fail saying why;
    with guard=False (the control) they must pass, the package loaded from the host."""
    env, package, rule, expected = case
    work = scratch(out, env, package, run_root)
    cmd = [sys.executable, "-m", "snakemake", "--sdm", "conda", "--conda-prefix", str(envs.resolve())]
    cmd += ["--configfile", str(config.resolve()), "--cores", "1", "--forcerun", rule, "--until", rule]
    cmd += ["--rerun-triggers", "mtime", "--resources", "gpu=1"]
    allow = os.pathsep.join(str(work / p) for p in ("src", "workflow/scripts"))
    job_env = {**os.environ, "P2L_ENV_RECORD": str((out / "removal-records").resolve()), "P2L_ENV_ALLOW": allow}
    job_env["P2L_ENV_GUARD"] = "on" if guard else "off"
    res = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=job_env)
    since = (work / "Snakefile").stat().st_mtime
    logs = "".join(
        p.read_text(errors="replace") for p in (work / run_root).rglob("logs/**/*.log") if p.stat().st_mtime > since
    )
    if not guard:
        held = res.returncode == 0
        verdict = "passed (the host's package), as without the guard it does" if held else "FAILED"
        return f"{env}: without {package} and without the guard, rule {rule}: exit {res.returncode}, {verdict}", held
    held = res.returncode != 0 and expected in logs
    verdict = f"failed ({expected}), as it must" if held else "DID NOT FAIL on the missing package"
    return f"{env}: without {package}, rule {rule}: exit {res.returncode}, {verdict}", held


def _probe(env_dir: Path) -> tuple[bool, str]:
    """(`hd-bet -h` ran, the imports' stderr ('' when they passed)) in a built HD-BET env."""
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    clean["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{clean['PATH']}"
    exe = env_dir / "bin" / "hd-bet"
    ran = exe.exists() and subprocess.run([str(exe), "-h"], capture_output=True, env=clean).returncode == 0
    probe = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", PROBE], capture_output=True, text=True, cwd=REPO, env=clean
    )
    return ran, "" if probe.returncode == 0 else probe.stderr.strip().splitlines()[-1]


def hdbet_case(out: Path, envs: Path, case: tuple):
    """(line, held): envs/hdbet.yaml built with the stand-in conda, and without the package; both probed."""
    _, package, _, expected = case
    cut = out / "removal" / f"hdbet-without-{package}.yaml"
    cut.parent.mkdir(parents=True, exist_ok=True)
    cut.write_text(stripped((REPO / "envs" / "hdbet.yaml").read_text(encoding="utf-8"), package), encoding="utf-8")
    found = {}
    for label, file in (("full", REPO / "envs" / "hdbet.yaml"), ("stripped", cut)):
        env_dir = envs / f"hdbet-{label}"
        if not env_dir.exists():
            subprocess.run(["conda", "env", "create", "--file", str(file), "--prefix", str(env_dir)], check=True)
        found[label] = _probe(env_dir)
    (full_ran, full_err), (cut_ran, cut_err) = found["full"], found["stripped"]
    held = full_ran and not full_err and not cut_ran and expected in cut_err
    line = (
        f"hdbet: full env: hd-bet -h {'ran' if full_ran else 'FAILED'}, imports {full_err or 'ok'}; "
        f"without {package}: hd-bet -h {'ran' if cut_ran else 'not found'}, imports: {cut_err or 'ok'}"
    )
    return line + ("" if held else " (NOT as it must be)"), held


def run_cases(out: Path, envs: Path, config: Path, run_root: Path, cases=CASES) -> tuple[list[str], bool]:
    """Each case, then the first one again without the guard: its job must then pass, which shows
    that the guard, not something else, makes the cases fail."""
    lines, held = [], True
    for case in cases:
        line, ok = rule_case(out, envs, config, case, run_root) if case[2] else hdbet_case(out, envs, case)
        print(line, flush=True)
        lines.append(line)
        held &= ok
    line, ok = rule_case(out, envs, config, cases[0], run_root, guard=False)
    print(line, flush=True)
    return [*lines, line], held and ok


if __name__ == "__main__":
    out = Path(sys.argv[1])
    sys.exit(0 if run_cases(out, out / "envs", Path(sys.argv[2]), Path(sys.argv[3]))[1] else 1)
