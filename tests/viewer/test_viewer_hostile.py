"""--html with --from-run or --model failed after the
whole computation ("the score has shape (111, 129, 107), the scan (0,)"); the viewer now gets the native scan and
its native-space score."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from patch2loc import cli
from tests.helpers.bundle import make_run, model_argv
from tests.helpers.fake_chain import faked_case, fake_run, from_run_argv


@pytest.fixture()
def c(tmp_path, monkeypatch):
    return faked_case(tmp_path, monkeypatch)


# ---------------------------------------------------------------- --html with --from-run or --model


@pytest.fixture()
def viewer_calls(monkeypatch):
    """What predict hands the viewer (the real viewer then writes the page)."""
    import patch2loc.viewer as viewer

    calls, real = [], viewer.prediction_viewer

    def record(out, image, score, *args, **kwargs):
        calls.append((np.shape(image), np.shape(score)))
        return real(out, image, score, *args, **kwargs)

    monkeypatch.setattr(viewer, "prediction_viewer", record)
    return calls


@pytest.mark.parametrize("mode", ["--from-run", "--model"])
def test_html_works_with_a_run_and_with_a_bundle(c, tmp_path, viewer_calls, mode):
    if mode == "--from-run":
        argv = from_run_argv(fake_run(tmp_path / "wf"), c, tmp_path / "out" / "x.nii.gz")
    else:
        run = make_run(tmp_path / "wf", c)
        assert cli.main(["export", str(run), "--modality", "T1", "--out", str(tmp_path / "t1.zip"), "--quiet"]) == 0
        argv = model_argv(c, tmp_path / "t1.zip", tmp_path / "out" / "x.nii.gz")
    assert cli.main([*argv, "--html", str(tmp_path / "out" / "x.html")]) == 0
    native = nib.load(c["image"]).shape
    assert viewer_calls == [(native, native)]  # the native scan and its native-space score
    page = (tmp_path / "out" / "x.html").read_text(encoding="utf-8")
    assert "(native)" in page and len(page) > 10_000
    summary = json.loads((tmp_path / "out" / "x_summary.json").read_text())
    assert summary["outputs"]["html"] == str(tmp_path / "out" / "x.html")
    shutil.rmtree(tmp_path / "out")
