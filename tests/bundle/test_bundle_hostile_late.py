"""The bundle's and export's part of what failed late, as "a bug", or after the whole
computation.

8 deeply nested JSON in a bundle; 10 export writing a bundle predict refuses; 11 an --out inside a
folder that is read whole; 13 temporaries of a killed predict --model or export; 15 export's SIGTERM
line. Each refusal: exit 2, one stderr line naming the file (and member or setting), no traceback,
the test folder unchanged. The other late failures, beside what they attack: scan shapes in
inputs/test_scan_shape_hostile.py, output links in outputs/test_outputs_hostile.py, run names in
workflow/test_run_name_hostile.py, a folder run's error line in predict/test_batch_lines_hostile.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.helpers.bundle import make_run, model_argv, rewrite
from tests.helpers.fake_chain import faked_case, from_run_argv
from tests.helpers.safety import refused, snapshot

from patch2loc import cli
from patch2loc.files.staging import TEMP_MARK

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture()
def c(tmp_path, monkeypatch):
    return faked_case(tmp_path, monkeypatch)


@pytest.fixture()
def run(c, tmp_path):
    return make_run(tmp_path / "wf", c)


def _export(run, out) -> list[str]:
    return ["export", str(run), "--modality", "T1", "--out", str(out), "--quiet"]


# ---------------------------------------------------------------- nesting

NESTED = b"[" * 300_000 + b"]" * 300_000


def test_deeply_nested_settings_in_a_zip_bundle_are_one_line(c, tmp_path, capsys, run):
    assert cli.main(_export(run, tmp_path / "b" / "t1.zip")) == 0
    rewrite(tmp_path / "b" / "t1.zip", lambda m: m.update({"settings.json": NESTED}), rehash=True)
    line = refused(
        model_argv(c, tmp_path / "b" / "t1.zip", tmp_path / "out" / "x.nii.gz"),
        "settings.json: nested more than 32 levels deep",
        tmp_path,
        capsys,
    )
    assert line.startswith(f"patch2loc predict: error: {tmp_path / 'b' / 't1.zip'}: settings.json")


def test_a_deeply_nested_manifest_of_a_folder_bundle_is_one_line(c, tmp_path, capsys, run):
    assert cli.main(_export(run, tmp_path / "folder")) == 0
    (tmp_path / "folder" / "manifest.json").write_bytes(NESTED)
    refused(
        model_argv(c, tmp_path / "folder", tmp_path / "out" / "x.nii.gz"),
        f"{tmp_path / 'folder'}: manifest.json: nested more than 32 levels deep",
        tmp_path,
        capsys,
    )


# ---------------------------------------------------------------- export checks what it writes


def test_export_refuses_a_nan_threshold(c, tmp_path, capsys, run):
    path = run / "scores" / "Patch2Loc" / "T1" / "fold1" / "IXI" / "threshold.json"
    path.write_text('{"threshold": NaN}')
    line = refused(_export(run, tmp_path / "out" / "t1.zip"), "threshold nan must be a finite number", tmp_path, capsys)
    assert str(path) in line


def test_export_refuses_a_misspelt_preprocess_key(c, tmp_path, capsys, run):
    cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
    cfg["preprocess"]["n4_iteration"] = [5]
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    line = refused(_export(run, tmp_path / "out" / "t1.zip"), "unknown key(s) ['n4_iteration']", tmp_path, capsys)
    assert "config.resolved.yaml" in line


@pytest.mark.parametrize("as_zip", [True, False])
def test_export_runs_predicts_checks_on_what_it_writes(c, tmp_path, capsys, monkeypatch, run, as_zip):
    """Whatever slips past the run's checks, the bundle itself is checked as predict will open it."""
    import patch2loc.bundle.export as export

    collect = export.collect

    def slipped(*args):
        settings, sources = collect(*args)
        settings["folds"][0]["threshold"] = float("inf")
        return settings, sources

    monkeypatch.setattr(export, "collect", slipped)
    out = tmp_path / "out" / ("t1.zip" if as_zip else "t1")
    line = refused(_export(run, out), "threshold inf must be a finite number", tmp_path, capsys)
    assert line.startswith(f"patch2loc export: error: {out}: settings.json") and "predict would refuse" in line


# ---------------------------------------------------------------- --out inside an input read whole


def test_out_inside_a_folder_bundle_is_refused(c, tmp_path, capsys, run):
    assert cli.main(_export(run, tmp_path / "folder")) == 0
    line = refused(
        model_argv(c, tmp_path / "folder", tmp_path / "folder" / "heat.nii.gz"), "inside --model", tmp_path, capsys
    )
    assert "read whole" in line
    assert cli.main(model_argv(c, tmp_path / "folder", tmp_path / "out" / "heat.nii.gz")) == 0  # still usable


def test_out_inside_the_run_folder_is_refused(c, tmp_path, capsys, run):
    refused(from_run_argv(run, c, run / "predictions" / "x.nii.gz"), "inside --from-run", tmp_path, capsys)


# ---------------------------------------------------------------- a killed run's temporaries

KILLED = """
import sys, time
import {module} as target
from patch2loc import cli
def paused(*args, **kwargs):
    print("paused", flush=True)
    time.sleep(60)
target.{name} = paused
sys.exit(cli.main(sys.argv[1:]))
"""


def _killed(argv, module, name, tmpdir) -> None:
    """Run the CLI in a child that pauses in `module.name`; SIGKILL it there (nothing cleans up)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED.format(module=module, name=name), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, "TMPDIR": str(tmpdir)},
    )
    try:
        assert proc.stdout.readline().strip() == "paused", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()


@pytest.mark.slow  # a child process
def test_a_killed_predict_model_leaves_a_folder_the_next_run_removes(c, tmp_path, run):
    assert cli.main(_export(run, tmp_path / "t1.zip")) == 0
    argv = model_argv(c, tmp_path / "t1.zip", tmp_path / "out" / "x.nii.gz")
    _killed(argv, "patch2loc.predict.models", "load_members", tmp_path / "tmp")
    left = os.listdir(tmp_path / "tmp")
    assert len(left) == 1 and left[0].startswith(f".patch2loc-bundle{TEMP_MARK}"), left  # marked with its owner
    assert cli.main(argv) == 0
    assert os.listdir(tmp_path / "tmp") == []  # swept: its owner is dead


@pytest.mark.slow  # a child process
def test_a_killed_export_leaves_files_the_next_export_removes(c, tmp_path, run):
    out = tmp_path / "out" / "t1.zip"
    _killed(_export(run, out), "patch2loc.bundle.export", "_zip", tmp_path / "tmp")
    left = os.listdir(out.parent)
    assert left and all(name.startswith(f".t1.zip{TEMP_MARK}") for name in left), left  # the members, the zip
    assert cli.main(_export(run, out)) == 0
    assert os.listdir(out.parent) == ["t1.zip"]


def test_a_live_runs_bundle_folder_is_never_swept(c, tmp_path, run):
    """The sweep removes only a dead owner's folder: one of this (live) process stays."""
    from patch2loc.bundle.reader import TEMP_NAME
    from patch2loc.files.staging import owned_temp_folder

    mine = owned_temp_folder(tmp_path / "tmp" / TEMP_NAME)
    assert cli.main(_export(run, tmp_path / "t1.zip")) == 0
    assert cli.main(model_argv(c, tmp_path / "t1.zip", tmp_path / "out" / "x.nii.gz")) == 0
    assert os.listdir(tmp_path / "tmp") == [mine.name]


# ---------------------------------------------------------------- the lines themselves


@pytest.mark.slow  # a child process
def test_export_says_what_a_sigterm_left(c, tmp_path, run):
    out = tmp_path / "out" / "t1.zip"
    code = KILLED.format(module="patch2loc.bundle.export", name="_zip")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *_export(run, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout.readline().strip() == "paused", proc.stderr.read()
        before = snapshot(out.parent)
        assert before  # the staged zip and the members, at the pause
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143
    assert err.strip() == f"patch2loc export: terminated (SIGTERM); nothing was written to {out}."
    assert not out.parent.exists()  # the folder export made for --out is gone with what was staged in it
