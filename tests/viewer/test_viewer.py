"""The heatmap viewer's page (no browser here: tests/viewer/test_viewer_browser.py opens it in Chromium)."""

from __future__ import annotations

import base64
import gzip
import json
import re

import nibabel as nib
import numpy as np
import pytest

from patch2loc.errors import InputError
from patch2loc.viewer import pages as viewer
from patch2loc.viewer.pages import SCORE_STEP, encode_volumes, viewer_from_files, viewer_html

# x runs right-to-left (negative voxel size): NIfTI voxel indices differ from NiiVue's RAS order.
AFFINE = np.array([[-2.0, 0, 0, 40], [0, 2, 0, -50], [0, 0, 2.5, -20], [0, 0, 0, 1]])


def tiny_case(shape=(20, 24, 12), seed=0):
    rng = np.random.default_rng(seed)
    scan = rng.uniform(0.1, 1.3, shape).astype(np.float32)
    scan[:2] = 0  # background
    score = rng.uniform(-1.0, 14.0, shape).astype(np.float32)
    seg = np.zeros(shape, bool)
    seg[8:12, 10:15, 4:7] = True
    return scan, score, seg


def decode(b64: str) -> nib.Nifti1Image:
    return nib.Nifti1Image.from_bytes(gzip.decompress(base64.b64decode(b64)))


def page_data(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="p2l-data">(.*?)</script>', page, re.S).group(1))


def test_volumes_survive_encoding_within_their_steps():
    scan, score, seg = tiny_case()
    data = encode_volumes(scan, score, AFFINE, seg)
    got = {k: decode(data[k]) for k in ("scan", "score", "seg")}
    for img in got.values():
        assert img.shape == scan.shape and np.allclose(img.affine, AFFINE)
    assert got["score"].get_data_dtype() == np.int16
    assert np.abs(got["score"].get_fdata() - score).max() <= SCORE_STEP / 2 + 1e-6
    lo, hi = data["scanRange"]
    inside = (scan >= lo) & (scan <= hi)
    assert inside.mean() > 0.98  # 0.5-99.5 % of the non-zero voxels, and 0
    assert np.abs(got["scan"].get_fdata() - scan)[inside].max() <= (hi - lo) / 255 / 2 + 1e-4
    assert np.array_equal(got["seg"].get_fdata() > 0, seg)


def test_inline_page_stands_alone_with_the_runs_threshold():
    scan, score, seg = tiny_case()
    page = viewer_html(
        scan, score, AFFINE, threshold=6.25, seg=seg, title="MSLUB <patient01>", meta="Patch2Loc T2 fold0"
    )
    data = page_data(page)
    assert data["threshold"] == 6.25 and data["range"] == [0.0, 12.0]  # the paper's fixed scale
    assert data["colormap"] == "inferno" and data["seg"] is not None
    assert "MSLUB &lt;patient01&gt;" in page and "<patient01>" not in page
    assert viewer.niivue_library().read_text(encoding="utf-8") in page  # NiiVue inlined
    assert not re.search(r'(src|href)="(?!data:)', page), "a standalone page may load nothing"
    assert page.lower().count("</script") == 3  # library, data, glue: nothing ends a script early


def test_page_beside_the_library_is_small_and_points_to_it():
    scan, score, _ = tiny_case()
    page = viewer_html(scan, score, AFFINE, threshold=5.0, library="../niivue.umd.js")
    assert '<script src="../niivue.umd.js"></script>' in page
    assert len(page) < 200_000 and page_data(page)["seg"] is None


def test_other_methods_get_a_range_from_their_scores():
    scan, score, _ = tiny_case()
    assert viewer.colour_range("Patch2Loc", score * 100, 6.0) == (0.0, 12.0)
    low, high = viewer.colour_range("Thresh", score / 14, 0.3)
    assert low == 0.0 and 0.9 < high <= 1.0  # the 99.9th percentile of the scores
    assert viewer.colour_range("Thresh", score / 14, 2.0)[1] == 2.5  # room above the threshold


def test_heatmap_of_another_grid_names_the_file_and_writes_nothing(tmp_path):
    scan, score, seg = tiny_case()
    nib.save(nib.Nifti1Image(scan, AFFINE), tmp_path / "image.nii.gz")
    nib.save(nib.Nifti1Image(score[:, :, :6], AFFINE), tmp_path / "heat.nii.gz")
    out = tmp_path / "v.html"
    with pytest.raises(InputError, match="heat.nii.gz.*differs"):
        viewer_from_files(out, tmp_path / "image.nii.gz", tmp_path / "heat.nii.gz", threshold=6.0)
    assert not out.exists()


def test_without_nilearn_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(viewer.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"pip install 'nilearn>=0.14'"):
        viewer.niivue_library()


def test_prediction_without_threshold_starts_at_the_scans_98th_percentile(tmp_path):
    scan, score, seg = tiny_case()
    brain = scan > 0
    nib.save(nib.Nifti1Image(seg.astype(np.uint8), AFFINE), tmp_path / "seg.nii.gz")
    out = viewer.prediction_viewer(
        tmp_path / "p.html", scan, score, AFFINE, None, brain=brain, seg=tmp_path / "seg.nii.gz", title="s1"
    )
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["threshold"] == pytest.approx(np.percentile(score[brain], 98), abs=1e-4)
    assert np.array_equal(decode(data["seg"]).get_fdata() > 0, seg)


# ---------------------------------------------------------------- patch2loc predict --html


def test_predict_html_holds_the_scored_scan_its_threshold_and_seg(tmp_path):
    from tests.helpers.safety import SHAPE, make_case, predict_argv

    from patch2loc import cli

    c = make_case(tmp_path / "in")
    seg = np.zeros(SHAPE, np.uint8)
    seg[6:9, 6:9, 1:3] = 1
    nib.save(nib.Nifti1Image(seg, c["affine"]), tmp_path / "in" / "seg.nii.gz")
    out, page = tmp_path / "o" / "s.nii.gz", tmp_path / "o" / "s.html"
    assert (
        cli.main(
            predict_argv(
                c, out, "--threshold", "4.5", "--seg", str(tmp_path / "in" / "seg.nii.gz"), "--html", str(page)
            )
        )
        == 0
    )
    data = page_data(page.read_text(encoding="utf-8"))
    heat = nib.load(out)
    shown = decode(data["score"])
    assert data["threshold"] == 4.5 and np.allclose(shown.affine, heat.affine)
    assert np.abs(shown.get_fdata() - heat.get_fdata()).max() <= SCORE_STEP / 2 + 1e-6
    assert np.array_equal(decode(data["seg"]).get_fdata(), seg)
    assert json.loads((tmp_path / "o" / "s_summary.json").read_text())["outputs"]["html"] == str(page)


def test_predict_html_refuses_a_folder_out_and_a_wrong_suffix(tmp_path, capsys):
    from tests.helpers.safety import make_case, predict_argv, refused

    c = make_case(tmp_path / "in")
    refused(predict_argv(c, tmp_path / "out_folder", "--html", str(tmp_path / "v.html")), "--html", tmp_path, capsys)
    refused(predict_argv(c, tmp_path / "s.nii.gz", "--html", str(tmp_path / "v.png")), "--html", tmp_path, capsys)
