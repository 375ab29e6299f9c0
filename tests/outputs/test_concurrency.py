"""Each run owns its staging files; cleanup never removes a live owner's.

Temporary names carry their owner (host, pid, process start time). A second predict on the same
--out used to delete the first one's live staging folder as a "stale temp"; now only the temps of
dead owners (or without an owner, which no live writer makes) are removed. `train` also locks its folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from tests.helpers.safety import make_case, predict_argv, refused, train_on

from patch2loc import cli
from patch2loc.files.staging import TEMP_MARK, owner_alive, remove_stale_temps

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

STAGER = """
import sys, time, pathlib
from patch2loc.files.staging import OutputSet
out, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with OutputSet() as outs:
    (outs.folder(out.with_name("h_preprocessed")) / "registered.nii.gz").write_bytes(b"first run")
    outs.file(out).write_bytes(b"first run")
    print("staged", flush=True)
    while not go.exists():
        time.sleep(0.05)
print("committed", flush=True)
"""


def _start_stager(out, go):
    proc = subprocess.Popen(
        [sys.executable, "-c", STAGER, str(out), str(go)], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert proc.stdout.readline().strip() == "staged"
    return proc


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if TEMP_MARK in p.name)


def test_a_second_predict_leaves_the_first_runs_staging_alone(tmp_path, capsys):
    c = make_case(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    first = _start_stager(out / "h.nii.gz", tmp_path / "go")
    try:
        staged = _temps(out)
        assert len(staged) == 2  # the first run's heatmap and folder, under their temporary names
        capsys.readouterr()
        assert cli.main(predict_argv(c, out / "h.nii.gz")) == 0  # the second run, same --out
        assert capsys.readouterr().err == ""
        assert _temps(out) == staged  # still there: its owner is alive
        (tmp_path / "go").touch()
        assert first.wait(timeout=60) == 0 and first.stdout.read().strip() == "committed"
    finally:
        first.kill()
    assert (out / "h.nii.gz").read_bytes() == b"first run"  # the first run committed last
    assert (out / "h_preprocessed" / "registered.nii.gz").read_bytes() == b"first run"
    assert _temps(out) == []


def test_a_killed_owners_staging_is_removed_by_the_next_run(tmp_path, capsys):
    c = make_case(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    first = _start_stager(out / "h.nii.gz", tmp_path / "never")
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=60) == -signal.SIGKILL
    assert len(_temps(out)) == 2
    assert cli.main(predict_argv(c, out / "h.nii.gz")) == 0
    assert [p for p in _temps(out) if p.startswith(".h.nii.gz")] == []  # the heatmap's leftover is gone
    assert remove_stale_temps(out / "h_preprocessed") and _temps(out) == []  # and the folder's, when asked


def test_owner_checks(tmp_path):
    mine = os.getpid()
    with open(f"/proc/{mine}/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    from patch2loc.files.staging import host_tag

    assert owner_alive(f".h.nii.gz{TEMP_MARK}{host_tag()}-{mine}-{start}-abc.nii.gz")
    assert not owner_alive(f".h.nii.gz{TEMP_MARK}{host_tag()}-{mine}-{start + 1}-abc.nii.gz")  # pid reused
    assert owner_alive(f".h.nii.gz{TEMP_MARK}0badc0de-{mine}-1-abc.nii.gz") or host_tag() == "0badc0de"  # other host
    assert not owner_alive(f".h.nii.gz{TEMP_MARK}i8j_rw23.nii.gz")  # no owner: no live writer made it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock on a folder: Linux")
def test_a_second_train_on_the_same_folder_is_refused(tmp_path, capsys):
    c = make_case(tmp_path / "in")
    (tmp_path / "in" / "l.csv").write_text(f"image,mask\n{c['image']},{c['mask']}\n")
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True); time.sleep(60)",
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        argv = train_on(tmp_path / "in" / "l.csv", run, "--steps", "1", "--patches", "4", "--device", "cpu", "--quiet")
        refused(argv, "another patch2loc train is writing into this folder", tmp_path, capsys)
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert cli.main(argv) == 0  # the lock went with its process
