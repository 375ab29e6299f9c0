"""Shared by tests/bids/test_bids_hostile*.py: the demo BIDS set, a tiny bundle, one
participant run to poison, and `refused`: one line, exit 2, nothing under the watched folder
created or changed, in under 7 s and without a large allocation (a 1 GB sparse file is never read
whole: it is compared by size and time, not read, here too)."""

from __future__ import annotations

import os
import resource
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.helpers.bids import SPACING, crop_prepare, make_bundle, participant_argv

import patch2loc
from patch2loc import cli
from patch2loc.bids.demo import write_demo_bids

# A hang guard, not a speed target: refusals take a few seconds (their times are measured side by side
# in tests/bids/test_battery_bids_app.py, docs/input-safety.md); a loaded CI machine must not fail them.
FAST_S = 60.0
SMALL_MB = 300  # growth of the test process's peak memory a refusal may cause


def snapshot(folder: Path) -> dict:
    """Every entry under `folder`: links by target, large or special files by size and time."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            info = p.lstat()
            if stat.S_ISLNK(info.st_mode):
                state[str(p)] = ("link", os.readlink(p))
            elif stat.S_ISREG(info.st_mode) and info.st_size <= 1 << 20:
                state[str(p)] = ("file", p.read_bytes(), info.st_mode)
            else:
                state[str(p)] = ("other", info.st_size, info.st_mtime_ns, info.st_mode)
    return state


def refused(argv: list[str], needle: str, watched: Path, capsys) -> str:
    before = snapshot(watched)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    capsys.readouterr()
    start = time.monotonic()
    rc = cli.main(argv)
    took = time.monotonic() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, (rc, err)
    assert "Traceback" not in err[0] and needle in err[0], err
    assert snapshot(watched) == before, "a refusal changed or wrote something"
    assert took < FAST_S, f"refused after {took:.1f} s"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - peak < SMALL_MB
    return err[0]


def in_child(argv: list[str], timeout: float = 30) -> tuple[int, list[str], float]:
    """The CLI in a child process (a hang fails the test instead of hanging it): rc, stderr lines, seconds."""
    code = "import sys; from patch2loc import cli; sys.exit(cli.main(sys.argv[1:]))"
    src = Path(patch2loc.__file__).resolve().parents[1]  # the sources this test process imported
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=timeout, env=env)
    return done.returncode, done.stderr.strip().splitlines(), time.monotonic() - start


participant = participant_argv  # the argv the hostile tests run, in the child or in-process


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo BIDS set, the tiny T2 bundle, and OUTPUT_DIR after one participant run."""
    base = tmp_path_factory.mktemp("bids_hostile")
    raw = write_demo_bids(base / "raw", spacing=SPACING)
    bundle = make_bundle(base / "model")
    out = base / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
        assert cli.main(participant(raw, out, bundle)) == 0
    return raw, bundle, out


@pytest.fixture()
def case(built, tmp_path, monkeypatch):
    """Copies in tmp_path (a refusal must leave them as they were); the copied preprocessing is
    patched in, so a run that is not refused really writes."""
    raw, bundle, out = built
    shutil.copytree(raw, tmp_path / "raw", symlinks=True)
    shutil.copytree(out, tmp_path / "out", symlinks=True)
    shutil.copy(bundle, tmp_path / bundle.name)
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
    return tmp_path / "raw", tmp_path / bundle.name, tmp_path / "out"
