"""A folder run's "done" means made from these inputs with these settings.

A scan is skipped only when its summary records the same input checksums and settings; a
replaced or truncated scan, or another threshold, is redone; a redo that fails removes the
earlier outputs, so the next run cannot report "0 failed" over stale results.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.safety import SHAPE, make_case, predict_argv

from patch2loc import cli

PER_SCAN = (".nii.gz", ".png", "_summary.json", "_components.csv", "_lesions.nii.gz")


@pytest.fixture()
def batch(tmp_path):
    """Two scans a, b listed in a csv, a checkpoint, and the argv of a folder run."""
    c = make_case(tmp_path / "in")
    rng = np.random.default_rng(5)
    for name in ("a", "b"):
        data = rng.normal(1.0, 0.3, SHAPE).astype(np.float32)
        nib.save(nib.Nifti1Image(data, c["affine"]), tmp_path / "in" / f"{name}.nii.gz")
    (tmp_path / "in" / "list.csv").write_text("image,mask\na.nii.gz,mask.nii.gz\nb.nii.gz,mask.nii.gz\n")
    argv = predict_argv(c, tmp_path / "out", "--threshold", "3", image=tmp_path / "in" / "list.csv", mask=False)
    return c, argv, tmp_path / "out"


def _run(argv, capsys):
    capsys.readouterr()
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert all("Traceback" not in line for line in err), err
    return rc, err


def _stamps(out, scan):
    return {s: (out / f"{scan}{s}").stat().st_mtime_ns for s in PER_SCAN}


def test_summary_records_input_checksums_and_settings(batch, capsys):
    c, argv, out = batch
    assert _run(argv, capsys) == (0, [])
    state = json.loads((out / "a_summary.json").read_text())["run_state"]
    image = c["image"].parent / "a.nii.gz"
    assert state["inputs"]["image"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert state["inputs"]["mask"] == hashlib.sha256(c["mask"].read_bytes()).hexdigest()
    assert state["settings"]["checkpoints"] == [hashlib.sha256(c["ckpt"].read_bytes()).hexdigest()]
    assert state["settings"]["threshold"] == 3.0 and state["settings"]["median_size"] == 7
    assert state["settings"]["stride"] == 1 and state["settings"]["centres"] == "dilated"
    assert len(state["fingerprint"]) == 64


def test_a_replaced_scan_is_redone_an_unchanged_one_skipped(batch, capsys):
    c, argv, out = batch
    assert _run(argv, capsys)[0] == 0
    a, b = _stamps(out, "a"), _stamps(out, "b")
    heat_before = np.asarray(nib.load(out / "a.nii.gz").dataobj)
    other = np.random.default_rng(9).normal(2.0, 0.5, SHAPE).astype(np.float32)
    nib.save(nib.Nifti1Image(other, c["affine"]), c["image"].parent / "a.nii.gz")  # a replaced, same name
    assert _run(argv, capsys)[0] == 0
    assert all(_stamps(out, "a")[s] != a[s] for s in PER_SCAN)  # redone: every output rewritten
    assert _stamps(out, "b") == b  # skipped
    assert not np.array_equal(np.asarray(nib.load(out / "a.nii.gz").dataobj), heat_before)


def test_another_threshold_redoes_every_scan(batch, capsys):
    c, argv, out = batch
    assert _run(argv, capsys)[0] == 0
    a = _stamps(out, "a")
    argv[argv.index("--threshold") + 1] = "2.5"
    assert _run(argv, capsys)[0] == 0
    assert _stamps(out, "a")["_lesions.nii.gz"] != a["_lesions.nii.gz"]
    assert json.loads((out / "a_summary.json").read_text())["threshold"] == 2.5


def test_a_failed_redo_removes_the_stale_outputs(batch, capsys):
    c, argv, out = batch
    assert _run(argv, capsys)[0] == 0
    image = c["image"].parent / "a.nii.gz"
    image.write_bytes(image.read_bytes()[:200])  # truncated after the first run
    rc, err = _run(argv, capsys)
    assert rc == 1 and len(err) == 1, err
    assert "a.nii.gz" in err[0] and "earlier outputs" in err[0] and "were removed" in err[0]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"b{s}" for s in PER_SCAN)  # nothing of a, no temp files
    rc, err = _run(argv, capsys)  # the next plain run: still a failure, never "0 failed"
    assert rc == 1 and len(err) == 1 and "a.nii.gz" in err[0] and "removed" not in err[0]


def test_a_failed_overwrite_of_current_outputs_keeps_them(batch, capsys, monkeypatch):
    """--overwrite of a scan whose outputs match its inputs: a failure (here out of memory) keeps
    them, since they are still the right results."""
    c, argv, out = batch
    assert _run(argv, capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("patch2loc.predict.ensemble.ensemble_score", no_memory)
    rc, err = _run(argv + ["--overwrite"], capsys)
    assert rc == 2 and len(err) == 2 and all("out of memory" in line for line in err), err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_outputs_without_a_record_are_redone(batch, capsys):
    """Outputs of an older version (no run_state in the summary) count as not done."""
    c, argv, out = batch
    assert _run(argv, capsys)[0] == 0
    summary = json.loads((out / "a_summary.json").read_text())
    del summary["run_state"]
    (out / "a_summary.json").write_text(json.dumps(summary))
    stamp = (out / "a.nii.gz").stat().st_mtime_ns
    assert _run(argv, capsys)[0] == 0
    assert (out / "a.nii.gz").stat().st_mtime_ns != stamp
    assert "run_state" in json.loads((out / "a_summary.json").read_text())


def test_out_may_be_the_folder_the_scans_are_in(tmp_path, capsys):
    """LOW: an --out folder that holds the inputs is fine when no output collides with one (every
    output is still checked against every input: `<id>.nii.gz` beside the scan itself is refused)."""
    c = make_case(tmp_path / "in")
    (tmp_path / "in" / "raw").mkdir()
    shutil.copy(c["image"], tmp_path / "in" / "raw" / "scan.nii.gz")
    (tmp_path / "in" / "l.csv").write_text("image,mask\nraw/scan.nii.gz,mask.nii.gz\n")
    argv = predict_argv(c, tmp_path / "in", image=tmp_path / "in" / "l.csv", mask=False)
    inputs = {p: p.read_bytes() for p in (tmp_path / "in").rglob("*") if p.is_file()}
    assert _run(argv, capsys) == (0, [])
    assert (tmp_path / "in" / "scan_summary.json").is_file()
    assert all(p.read_bytes() == data for p, data in inputs.items())
    argv[argv.index("--out") + 1] = str(tmp_path / "in" / "raw")  # scan.nii.gz would replace the scan
    rc, err = _run(argv, capsys)
    assert rc == 2 and len(err) == 1 and "same file as --image" in err[0]
