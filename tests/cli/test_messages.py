"""Messages that must not mislead: each case a refusal or an interruption whose
one line says what is true."""

from __future__ import annotations

import os
import signal

import patch2loc.methods.patch2loc.train as train_mod
from patch2loc import cli
from tests.helpers.safety import make_case, predict_argv, train_argv


def test_sigterm_before_any_checkpoint_does_not_promise_a_resume(tmp_path, monkeypatch, capsys):
    make_case(tmp_path / "in")
    (tmp_path / "in" / "l.csv").write_text("image,mask\nimage.nii.gz,mask.nii.gz\n")
    real = train_mod.evaluate

    def terminated(*args, **kwargs):  # the first validation: nothing written yet
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate", terminated)
    capsys.readouterr()
    assert cli.main(train_argv(tmp_path / "in" / "l.csv", tmp_path / "in" / "l.csv", tmp_path / "run", steps=3)) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "terminated (SIGTERM)" in err[0], err
    assert "no checkpoint was written yet" in err[0] and "start over" in err[0], err
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_folder_as_checkpoint_is_named_as_such(tmp_path, capsys):
    c = make_case(tmp_path / "in")
    (tmp_path / "models").mkdir()
    capsys.readouterr()
    assert cli.main(predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "models")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--checkpoint is a folder" in err[0] and str(tmp_path / "models") in err[0], err
    assert "free space" not in err[0] and str(tmp_path / "out") not in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_one_slice_3d_scan_is_refused_from_its_header_as_one_slice(tmp_path, capsys):
    import nibabel as nib
    import numpy as np

    c = make_case(tmp_path / "in")
    one = tmp_path / "one.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((16, 16, 1), np.float32), np.eye(4)), one)
    nib.save(nib.Nifti1Image(np.ones((16, 16, 1), np.uint8), np.eye(4)), tmp_path / "one_mask.nii.gz")
    capsys.readouterr()
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz", image=one, mask=tmp_path / "one_mask.nii.gz")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # refused from the header (claims.py: "it was not read"), and not called a 2D image
    assert len(err) == 1 and "a single slice" in err[0] and "[16, 16, 1]" in err[0] and "not read" in err[0], err
    assert "2D" not in err[0] and "(16, 16)" not in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_link_planted_at_a_named_output_offers_no_flag_that_does_not_exist(tmp_path):
    import pytest

    from patch2loc.errors import InputError
    from patch2loc.files.outputs import check_output

    (tmp_path / "elsewhere").mkdir()
    planted = tmp_path / "t2_preprocessed"
    planted.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError) as exc:
        check_output(planted, "the preprocessed folder of t2.nii.gz", (), {}, folder=True)
    assert "symbolic link" in str(exc.value) and "Remove the link." in str(exc.value)
    assert "choose another the" not in str(exc.value)
    with pytest.raises(InputError, match="Remove the link or choose another --out"):
        check_output(planted, "--out", (), {}, folder=True)


def test_out_in_the_scans_own_folder_is_refused_before_a_rerun_can_read_heatmaps_as_scans(tmp_path, capsys):
    import shutil

    c = make_case(tmp_path / "in")
    scans = tmp_path / "scans"
    scans.mkdir()
    shutil.copy(c["image"], scans / "a.nii")
    argv = predict_argv(c, scans, image=scans, mask=None)
    argv[argv.index("--mask") : argv.index("--mask") + 2] = []  # a folder of scans: no single --mask
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inside the scans' folder" in err[0], err
    assert sorted(p.name for p in scans.iterdir()) == ["a.nii"]
