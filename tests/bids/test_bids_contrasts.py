"""`patch2loc bids` with a bundle of several contrasts (T1T2 of T1, T2). Each T1w
is paired with the T2w of its subject, session and run, the pair scored as `patch2loc predict
--model B --image T1w --contrast T2=T2w` scores it, and a session lacking its T2w is said on one
line and left out (never a crash). The demo's BIDS set with one T2w removed, a tiny T1T2 DAE
bundle and the copied "preprocessing" of tests/helpers/bids.py."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.bids import SPACING, crop_prepare, make_bundle, participant_argv

from patch2loc import cli
from patch2loc.bids.demo import write_demo_bids
from patch2loc.bids.names import derivative_paths

pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")

LACKING = "sub-01/ses-2/anat/sub-01_ses-2_T2w.nii.gz"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("bids_t1t2")
    raw = write_demo_bids(base / "raw", spacing=SPACING)
    (raw / LACKING).unlink()
    bundle = make_bundle(base / "model", "T1T2", ("T1", "T2"))
    out = raw / "derivatives" / "patch2loc"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
        yield raw, bundle, out


def test_each_session_pair_is_scored_as_predict_scores_it_and_a_lacking_t2w_is_one_line(run, tmp_path, capsys):
    raw, bundle, out = run
    capsys.readouterr()
    assert cli.main(participant_argv(raw, out, bundle)) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sub-01_ses-2_T1w.nii.gz" in err[0] and "no T2w scan" in err[0], err
    done = sorted(p.relative_to(out).as_posix() for p in out.rglob("*_space-native_desc-anomaly_T1w.nii.gz"))
    assert done == [
        "sub-01/ses-1/anat/sub-01_ses-1_space-native_desc-anomaly_T1w.nii.gz",
        "sub-02/anat/sub-02_space-native_desc-anomaly_T1w.nii.gz",
    ]
    assert not list(out.rglob("*_T2w.nii.gz"))  # the derivatives keep the reference (T1w) scan's names
    # the same session through predict itself: the same map
    folder, stem = "sub-02/anat/", "sub-02"
    masks = raw / "derivatives" / "masks" / folder
    argv = [
        "predict",
        "--model",
        str(bundle),
        "--image",
        str(raw / folder / f"{stem}_T1w.nii.gz"),
        "--mask",
        str(masks / f"{stem}_space-T1w_desc-brain_mask.nii.gz"),
        "--contrast",
        f"T2={raw / folder / f'{stem}_T2w.nii.gz'}",
        "--contrast-mask",
        f"T2={masks / f'{stem}_space-T2w_desc-brain_mask.nii.gz'}",
        "--out",
        str(tmp_path / "p" / "s.nii.gz"),
        "--device",
        "cpu",
        "--quiet",
    ]
    assert cli.main(argv) == 0
    names = derivative_paths({"subject": "02", "suffix": "T1w"})
    mine = nib.load(out / names["heatmap"]).get_fdata()
    np.testing.assert_array_equal(mine, nib.load(tmp_path / "p" / "s_native.nii.gz").get_fdata())
    assert np.abs(mine).max() > 0
    summary = json.loads(next((out / ".predict").glob("sub-02_T1w_summary.json")).read_text())
    assert set(summary["run_state"]["settings"]["contrasts"]) == {"T2 contrast", "T2 contrast_mask"}
