"""SIGTERM (what `timeout`, `kill` and SLURM send): handled like Ctrl-C.

One line, exit 143 (128 + 15), and nothing partial left: the staged outputs of the scan in
progress are removed (predict), the last complete checkpoint is kept for a resume (train).
Each child process below signals when it is mid-run (outputs staged, or training between two
validations) and the test then sends it a real SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from tests.helpers.safety import predict_argv, train_argv

from patch2loc import cli
from patch2loc.files.staging import TEMP_MARK

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
PAUSE = """
import sys, time
import {module} as target
from patch2loc import cli
real = target.{name}
calls = []
def paused(*args, **kwargs):
    calls.append(1)
    if len(calls) == {at}:
        print("paused", flush=True)
        time.sleep(60)
    return real(*args, **kwargs)
target.{name} = paused
sys.exit(cli.main(sys.argv[1:]))
"""


def _run_and_terminate(argv, module, name, at=1, watch=None):
    """Run the CLI in a child that pauses in `module.name` (its `at`-th call); SIGTERM it there.
    Returns the exit status, the stderr lines and the temporary files in `watch` at the pause."""
    code = PAUSE.format(module=module, name=name, at=at)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert proc.stdout.readline().strip() == "paused", proc.stderr.read()
        staged = sorted(p.name for p in watch.iterdir() if TEMP_MARK in p.name) if watch else []
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, err.strip().splitlines(), staged


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_sigterm_during_predict_leaves_nothing(c, tmp_path):
    out = tmp_path / "out"
    # paused while the components table is written: the other outputs are staged, none committed
    rc, err, staged = _run_and_terminate(
        predict_argv(c, out / "h.nii.gz", "--threshold", "3", "--png", str(out / "h.png")),
        "patch2loc.predict.lesions",
        "components_csv",
        watch=out,
    )
    assert rc == 143, err
    assert len(staged) == 4, staged  # heatmap, lesion mask, summary, components: staged at the signal
    assert len(err) == 1 and "terminated (SIGTERM)" in err[0] and "Traceback" not in err[0], err
    assert not out.exists() or list(out.iterdir()) == []  # no heatmap, no temp file


def test_sigterm_in_process_restores_the_handler(c, tmp_path, capsys, monkeypatch):
    import patch2loc.predict.lesions as lesions

    real = lesions.components_csv

    def terminate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(lesions, "components_csv", terminate)
    before = signal.getsignal(signal.SIGTERM)
    capsys.readouterr()
    assert cli.main(predict_argv(c, tmp_path / "out" / "h.nii.gz")) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "terminated (SIGTERM)" in err[0], err
    assert not (tmp_path / "out").exists()
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_sigterm_during_training_keeps_the_last_checkpoint_and_resumes(c, tmp_path):
    (tmp_path / "in" / "l.csv").write_text("image,mask\nimage.nii.gz,mask.nii.gz\n")
    run = tmp_path / "run"
    argv = train_argv(tmp_path / "in" / "l.csv", tmp_path / "in" / "l.csv", run, steps=3)
    # paused in the second validation: step 1's checkpoints are written, step 2's are not
    rc, err, _ = _run_and_terminate(argv, "patch2loc.methods.patch2loc.train", "evaluate", at=2)
    assert rc == 143, err
    assert len(err) == 1 and "terminated (SIGTERM)" in err[0] and "resume" in err[0], err
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "loss.csv"]
    assert not any(TEMP_MARK in p.name for p in run.iterdir())
    assert cli.main(argv) == 0  # resumes from step 1
    assert [r.split(",")[0] for r in (run / "loss.csv").read_text().splitlines()] == ["step", "1", "2", "3"]


def test_sigterm_while_a_checkpoint_is_written_is_sigterm_not_a_write_error(tmp_path, monkeypatch):
    """torch's C++ writer turns an interrupt raised in its Python write callback into a RuntimeError
    ("unexpected pos"); the battery saw `patch2loc train` then report a failed write (exit 2) for
    a SIGTERM. The interrupt must come through as itself, and nothing half-written stays."""
    import builtins

    import torch

    from patch2loc.run import checkpoint
    from patch2loc.errors import Terminated

    real_open, calls = builtins.open, []

    class Interrupted:  # a file whose third write is where SIGTERM arrives
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            calls.append(len(data))
            if len(calls) == 3:
                raise Terminated()
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(checkpoint, "open", lambda p, mode="r": Interrupted(real_open(p, mode)), raising=False)
    target = tmp_path / "last.pt"
    with pytest.raises(Terminated):
        checkpoint.save_checkpoint(target, {"model": {"w": torch.ones(50_000)}, "step": 1})
    assert len(calls) == 3
    assert list(tmp_path.iterdir()) == []


def test_a_failed_checkpoint_write_is_still_a_write_error(tmp_path, monkeypatch):
    """The same RuntimeError without an interrupt behind it stays what it is."""
    import torch

    from patch2loc.run import checkpoint

    def broken(obj, fh):
        raise RuntimeError("[enforce fail at inline_container.cc:671] . unexpected pos 46 vs 0")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="unexpected pos"):
        checkpoint.save_checkpoint(tmp_path / "last.pt", {"step": 1})
    assert list(tmp_path.iterdir()) == []
