"""Build an isolated Python environment from one env file: a venv of a Python the file's `python`
pin admits, with the file's packages from PyPI (their PyPI names from envs/packages.yaml, the same
bounds) and nothing else: no system or user site-packages, no pip unless the file lists it.

The import guard (rehearsals/envs/guard.py) goes in too: in a job that Snakemake's script preamble
starts, it drops the host's import paths the preamble appends and records what the job imported.

A file that lists what an env already built beside it lists, less packages nothing else there
depends on (the removal checks' files), is built from that env: a hard-linked copy, the scripts in
bin/ pointed at the copy, the packages uninstalled. What a fresh build would give, in seconds
instead of minutes: pip's resolver only brings in a package that something requires.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from rehearsals.envs.spec import REPO, catalog, read_env, requirements

GUARD = Path(__file__).with_name("guard.py")
MARKER = "p2l-env.json"  # in each built env: the env file it was built from


def find_python(env) -> str:
    """The first python3.X on PATH (3.11 first) whose version the env's python pin admits."""
    for minor in (11, 12, 13, 10, 14):
        exe = shutil.which(f"python3.{minor}")
        if exe and env.python.admits(f"3.{minor}.0"):
            out = subprocess.run(
                [exe, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
            )
            if out.returncode == 0 and env.python.admits(out.stdout.strip()):
                return exe
    raise SystemExit(
        f"{env.path}: no Python on PATH that `python{env.python.spec}` admits; install one (python3.X on PATH)."
    )


def site_packages(prefix: Path) -> Path:
    return next((prefix / "lib").glob("python3.*/site-packages"))


def pip(prefix: Path, *args: str) -> None:
    """The host's pip acting on the env (--python): the env itself needs no pip."""
    cmd = [sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def _required_by_others(prefix: Path, names: set[str]) -> set[str]:
    """Of `names` (distributions in the env), those another distribution there requires."""
    code = (
        "import json, re, sys, importlib.metadata as m\n"
        "names = set(json.loads(sys.argv[1]))\n"
        "key = lambda n: re.sub(r'[-_.]+', '-', n).lower()\n"
        "print(json.dumps(sorted({key(re.split(r'[ ;<>=!~\\[(]', r, maxsplit=1)[0]) for d in m.distributions()\n"
        "    if key(d.metadata['Name']) not in names for r in (d.requires or [])} & names)))"
    )
    out = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", code, json.dumps(sorted(names))],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout))


def _sibling(prefix: Path, reqs: list[str]) -> tuple[Path, set[str]] | None:
    """An env built beside `prefix` whose requirements are `reqs` plus leaf packages, and those."""
    for other in sorted(prefix.parent.iterdir()):
        marker = other / MARKER
        if other == prefix or not marker.exists():
            continue
        theirs = json.loads(marker.read_text(encoding="utf-8"))["requirements"]
        extra = {canonical(r) for r in set(theirs) - set(reqs)}
        if set(reqs) < set(theirs) and not _required_by_others(other, extra):
            return other, extra
    return None


def canonical(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0]).lower()


def _clone(source: Path, prefix: Path, remove: set[str]) -> None:
    subprocess.run(["cp", "-al", str(source), str(prefix)], check=True)
    for script in (prefix / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            text = script.read_bytes()
            script.unlink()  # break the hard link before writing
            script.write_bytes(text.replace(str(source).encode(), str(prefix).encode()))
            script.chmod(0o755)
    pip(prefix, "uninstall", "--yes", *sorted(remove))


def build(env_file: Path, prefix: Path) -> None:
    """Create the environment of `env_file` at `prefix` (which must not exist)."""
    env = read_env(env_file)
    packages = catalog()["packages"]
    reqs = requirements(env, packages)
    sibling = _sibling(prefix, reqs)
    if sibling:
        print(f"{env_file}: {sibling[0].name} less {', '.join(sorted(sibling[1]))}", flush=True)
        _clone(sibling[0], prefix, sibling[1])
    else:
        subprocess.run([find_python(env), "-m", "venv", "--without-pip", str(prefix)], check=True)
        pip(prefix, "install", "--no-input", *reqs)
    site = site_packages(prefix)
    for own in (site / "p2l_env_guard.py", site / "p2l_env_guard.pth", prefix / MARKER):
        own.unlink(missing_ok=True)  # a clone's are hard links to its source's
    shutil.copy(GUARD, site / "p2l_env_guard.py")
    (site / "p2l_env_guard.pth").write_text("import p2l_env_guard\n", encoding="utf-8")
    record = {"file": str(env_file), "text": Path(env_file).read_text(encoding="utf-8"), "requirements": reqs}
    (prefix / MARKER).write_text(json.dumps(record, indent=1), encoding="utf-8")


def refresh_guards(root: Path) -> list[Path]:
    """Put this checkout's guard into every env built under `root` (an env keeps the guard it was
    built with, and its hash, which Snakemake keys it by, does not see the guard)."""
    updated = []
    for marker in sorted(root.glob(f"*/{MARKER}")):
        target = site_packages(marker.parent) / "p2l_env_guard.py"
        if not target.exists() or target.read_bytes() != GUARD.read_bytes():
            target.unlink(missing_ok=True)  # a clone's is a hard link to its source's
            shutil.copy(GUARD, target)
            updated.append(marker.parent)
    return updated


def installed(prefix: Path) -> dict[str, str]:
    """Python and every distribution installed in a built env: {name: version}."""
    code = (
        "import json, platform, importlib.metadata as m; "
        "print(json.dumps({'python': platform.python_version(), "
        "**{d.metadata['Name']: d.version for d in m.distributions()}}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)


def source_env(prefix: Path, root: Path = REPO / "envs") -> str | None:
    """The envs/ file (relative to root's parent) a built env was made from, by its text; None if none."""
    marker = prefix / MARKER
    if not marker.exists():
        return None
    text = json.loads(marker.read_text(encoding="utf-8"))["text"]
    from rehearsals.envs.spec import env_files

    found = [p for p in env_files(root) if p.read_text(encoding="utf-8") == text]
    return str(found[0].relative_to(root.parent)) if found else None
