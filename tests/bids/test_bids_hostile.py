"""Hostile folders for `patch2loc bids` (docs/input-safety.md "Round 4: the BIDS
App"): links in OUTPUT_DIR, directory links that loop in a dataset, scan names that are not BIDS
names (an HTML event handler in one), and an OUTPUT_DIR that is not the App's to write. Each is
refused in one line, exit 2, with nothing written anywhere under the test's folder."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import tests.helpers.bids_hostile as helpers
from tests.helpers.bids_hostile import FAST_S, in_child, participant, refused

from patch2loc.bids import guard
from patch2loc.errors import InputError

pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")
built, case = helpers.built, helpers.case  # the fixtures
LINK = "symbolic link inside OUTPUT_DIR"


def _elsewhere(tmp_path, source):
    """A copy of `source` outside OUTPUT_DIR, for a planted link to point at."""
    target = tmp_path / "elsewhere" / source.name
    target.parent.mkdir(exist_ok=True)
    (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    return target


def _plant(path, tmp_path):
    target = _elsewhere(tmp_path, path)
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.symlink_to(target)


# ---------------------------------------------------------------- 1. nothing written through a link


@pytest.mark.parametrize(
    "where",
    [
        "sub-02",  # the subject folder
        "sub-02/anat",
        ".predict/sub-02_T2w_preprocessed",  # predict's own working folder
        "sub-02/anat/sub-02_space-native_desc-anomaly_T2w.json",
        "atlas",
    ],
)
def test_a_link_anywhere_in_output_dir_is_refused_and_nothing_is_written_through_it(case, tmp_path, capsys, where):
    raw, bundle, out = case
    _plant(out / where, tmp_path)
    # --overwrite: without the refusal every scan is redone and republished, through the link
    line = refused(participant(raw, out, bundle, "--overwrite"), LINK, tmp_path, capsys)
    assert where.split("/")[-1] in line and "elsewhere" in line


def test_the_group_level_refuses_a_link_too(case, tmp_path, capsys):
    raw, _, out = case
    (tmp_path / "elsewhere").mkdir()
    (out / "report.html").symlink_to(tmp_path / "elsewhere" / "report.html")
    refused(["bids", str(raw), str(out), "group", "--quiet"], LINK, tmp_path, capsys)


def test_a_link_that_appears_while_publishing_is_not_written_through(tmp_path):
    out = tmp_path / "out"
    (out / "sub-02").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (out / "sub-02" / "anat").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InputError, match="appeared inside OUTPUT_DIR"):
        guard.check_write(out, out / "sub-02" / "anat" / "x.nii.gz")
    assert guard.check_write(out, out / "sub-02" / "y.json") == out / "sub-02" / "y.json"


# ---------------------------------------------------------------- 2. directory links in a dataset


def test_two_directory_links_to_dot_are_refused_fast_instead_of_walked_forever(case, tmp_path):
    raw, bundle, _ = case
    for name in ("loop1", "loop2"):
        (raw / "sub-01" / name).symlink_to(".")
    rc, err, took = in_child(participant(raw, tmp_path / "new", bundle), timeout=60)  # the old code: no answer
    assert rc == 2 and len(err) == 1 and "directory link" in err[0] and "loop" in err[0], err
    assert took < FAST_S + 5, took  # a fresh interpreter's imports included
    assert not (tmp_path / "new").exists()


def test_a_loop_in_the_mask_derivatives_is_refused_too(case, tmp_path):
    raw, bundle, _ = case
    (raw / "derivatives" / "masks" / "sub-02" / "anat" / "up").symlink_to("../..")
    rc, err, _ = in_child(participant(raw, tmp_path / "new", bundle), timeout=60)
    assert rc == 2 and len(err) == 1 and "--mask-derivatives" in err[0] and "up" in err[0], err


def test_directory_links_out_of_the_dataset_or_too_deep_are_refused(case, tmp_path, capsys):
    raw, bundle, _ = case
    outside = _elsewhere(tmp_path, raw / "sub-02")
    (raw / "sub-03").symlink_to(outside)
    refused(participant(raw, tmp_path / "new", bundle), "points outside the dataset", tmp_path, capsys)
    (raw / "sub-03").unlink()
    deep = raw / "sub-02" / "/".join(f"d{i}" for i in range(20))
    deep.mkdir(parents=True)
    refused(participant(raw, tmp_path / "new", bundle), "nested more than 16 folders", tmp_path, capsys)


def test_links_the_dataset_may_hold_are_followed(case):
    """A link into a folder pybids skips (sourcedata/) and a file link (git-annex) are fine."""
    raw, _, _ = case
    (raw / "sourcedata" / "sub-03" / "anat").mkdir(parents=True)
    (raw / "sub-03").symlink_to(raw / "sourcedata" / "sub-03")
    (raw / "annexed.txt").write_text("x")
    (raw / "sub-02" / "anat" / "notes.txt").symlink_to(raw / "annexed.txt")
    guard.check_dataset_tree(raw, "BIDS_DIR")


# ---------------------------------------------------------------- 3. names that are not BIDS names


def _with_mask(raw, name):
    """A scan `name` in sub-02/anat with its own brain mask (so the old code would score it)."""
    anat, masks = raw / "sub-02" / "anat", raw / "derivatives" / "masks" / "sub-02" / "anat"
    shutil.copy(anat / "sub-02_T2w.nii.gz", anat / name)
    stem = name.split(".nii")[0].removesuffix("_T2w")
    if stem == "sub-02":  # sub-02_T2w.nii: sub-02_T2w.nii.gz's mask fits it
        return
    shutil.copy(masks / "sub-02_space-T2w_desc-brain_mask.nii.gz", masks / f"{stem}_space-T2w_desc-brain_mask.nii.gz")
    (masks / f"{stem}_space-T2w_desc-brain_mask.json").write_text(
        json.dumps({"Sources": [f"bids:raw:sub-02/anat/{name}"]})
    )


@pytest.mark.parametrize(
    "name, needle",
    [
        ("sub-02_<img src=x onerror=alert(1)>_T2w.nii.gz", "not the BIDS name"),
        ("sub-02_foo-x_T2w.nii.gz", "not the BIDS name"),
        ("sub-02_T2w.nii", "the same scan entities"),
    ],
)
def test_a_scan_whose_name_is_not_its_bids_name_is_refused(case, tmp_path, capsys, name, needle):
    """pybids indexes each as sub-02's T2w: the old code published it over sub-02_T2w's derivatives."""
    raw, bundle, _ = case
    _with_mask(raw, name)
    line = refused(participant(raw, tmp_path / "new", bundle), needle, tmp_path, capsys)
    assert "sub-02" in line


def test_the_group_level_refuses_a_planted_heatmap_name(case, tmp_path, capsys):
    raw, _, out = case
    anat = out / "sub-02" / "anat"
    shutil.copy(
        anat / "sub-02_space-native_desc-anomaly_T2w.nii.gz",
        anat / "sub-02_<img src=x onerror=alert(1)>_space-native_desc-anomaly_T2w.nii.gz",
    )
    refused(["bids", str(raw), str(out), "group", "--quiet"], "not a heatmap name patch2loc writes", tmp_path, capsys)


def test_the_viewer_page_keeps_a_hostile_title_as_text():
    from patch2loc.viewer.pages import viewer_html

    import numpy as np

    scan = np.ones((4, 4, 4), np.float32)
    page = viewer_html(
        scan, scan, np.eye(4), threshold=0.5, title='x" onmouseover="alert(1) <img src=x> @@DATA@@', library="n.js"
    )
    title = page.split("<title>")[1].split("</title>")[0]
    assert title == "x&quot; onmouseover=&quot;alert(1) &lt;img src=x&gt; @@DATA@@", title
    assert "<img" not in page


# ---------------------------------------------------------------- 6. where OUTPUT_DIR may be


@pytest.mark.parametrize(
    "where, needle",
    [
        ("derivatives", "contains --mask-derivatives"),
        ("derivatives/a/b", "not under its derivatives/ folder"),
        ("derivatives/masks/p2l", "not under its derivatives/ folder"),
        ("sub-02", "not under its derivatives/ folder"),
    ],
)
def test_output_dir_inside_a_dataset_only_as_its_derivatives_name(case, tmp_path, capsys, where, needle):
    raw, bundle, _ = case
    refused(participant(raw, raw / where, bundle), needle, tmp_path, capsys)
    if where == "derivatives":  # without --mask-derivatives: not one level below derivatives/
        args = participant(raw, raw / where, bundle)
        del args[args.index("--mask-derivatives") : args.index("--mask-derivatives") + 2]
        refused(args, "not under its derivatives/ folder", tmp_path, capsys)


def test_output_dir_holding_an_input_dataset_is_refused(case, tmp_path, capsys):
    raw, bundle, _ = case
    masks = tmp_path / "o" / "masks"
    masks.parent.mkdir()
    shutil.move(raw / "derivatives" / "masks", masks)
    args = participant(raw, tmp_path / "o", bundle)
    args[args.index("--mask-derivatives") + 1] = str(masks)
    refused(args, "contains --mask-derivatives", tmp_path, capsys)


def test_output_dir_of_another_pipeline_is_refused(case, tmp_path, capsys):
    raw, bundle, out = case
    fmriprep = tmp_path / "fmriprep"
    (fmriprep / "sub-02").mkdir(parents=True)
    (fmriprep / "dataset_description.json").write_text(
        json.dumps({"Name": "fMRIPrep", "DatasetType": "derivative", "GeneratedBy": [{"Name": "fMRIPrep"}]})
    )
    refused(participant(raw, fmriprep, bundle), "another pipeline's derivatives", tmp_path, capsys)
    desc = json.loads((out / "dataset_description.json").read_text())
    desc["GeneratedBy"].append({"Name": "fMRIPrep", "Version": "24.1.0"})  # ours first, then another's
    (out / "dataset_description.json").write_text(json.dumps(desc))
    line = refused(participant(raw, out, bundle), "another pipeline's derivatives", tmp_path, capsys)
    assert "fMRIPrep" in line and os.path.isdir(out / "sub-02")
