"""Raw layouts: subject discovery, missing-data instructions, lesion label binarisation."""

from __future__ import annotations

import numpy as np
import pytest

from patch2loc.data.layouts import MODALITIES, binarize_seg, check_raw, list_subjects, raw_paths
from patch2loc.errors import InputError

SUBJECTS = {
    "IXI": ["IXI002-Guys-0828", "IXI012-HH-1211"],
    "BraTS21": ["BraTS2021_00000", "BraTS2021_00002"],
    "MSLUB": ["patient01", "patient02"],
    "ATLAS_v2": ["sub-r001s001", "sub-r040s012"],
    "WMH": ["GE3T_100", "Singapore_50", "Utrecht_0"],
}


def _touch_scan(root, dataset, subject, modality):
    scan = raw_paths(dataset, root, subject, modality)
    for path in (scan.image, scan.seg):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    return scan


@pytest.mark.parametrize("dataset", sorted(MODALITIES))
def test_list_subjects_finds_what_raw_paths_writes(tmp_path, dataset):
    modality = MODALITIES[dataset][0]
    for subject in SUBJECTS[dataset]:
        _touch_scan(tmp_path, dataset, subject, modality)
    (tmp_path / dataset / "README.txt").write_text("not a subject")
    assert list_subjects(dataset, tmp_path, modality) == sorted(SUBJECTS[dataset])
    check_raw(dataset, tmp_path, SUBJECTS[dataset], modality)  # complete: no error


def test_ixi_t2_only_where_present(tmp_path):
    _touch_scan(tmp_path, "IXI", "IXI002-Guys-0828", "T1")
    _touch_scan(tmp_path, "IXI", "IXI002-Guys-0828", "T2")
    _touch_scan(tmp_path, "IXI", "IXI012-HH-1211", "T1")
    assert list_subjects("IXI", tmp_path, "T2") == ["IXI002-Guys-0828"]
    assert list_subjects("IXI", tmp_path, "T1") == ["IXI002-Guys-0828", "IXI012-HH-1211"]


@pytest.mark.parametrize("dataset,phrase", [("BraTS21", "Synapse"), ("ATLAS_v2", "data-use agreement")])
def test_manual_datasets_missing_give_instructions(tmp_path, dataset, phrase):
    with pytest.raises(InputError) as err:
        check_raw(dataset, tmp_path, SUBJECTS[dataset])
    msg = str(err.value)
    assert phrase in msg and str(tmp_path / dataset) in msg
    assert str(raw_paths(dataset, tmp_path, SUBJECTS[dataset][0], MODALITIES[dataset][0]).image) in msg


def test_missing_seg_or_mask_is_reported(tmp_path):
    scan = _touch_scan(tmp_path, "MSLUB", "patient01", "T2")
    scan.seg.unlink()
    with pytest.raises(InputError, match="consensus_gt.nii.gz"):
        check_raw("MSLUB", tmp_path, ["patient01"])
    scan.seg.write_bytes(b"")
    with pytest.raises(InputError, match="brainmask.nii.gz"):
        check_raw("MSLUB", tmp_path, ["patient01"], need_mask=True)


def test_binarize_seg():
    brats = np.array([0, 1, 2, 4, 0])
    assert binarize_seg("BraTS21", brats).tolist() == [False, True, True, True, False]
    wmh = np.array([0.0, 1.0, 2.0, 1.0000001])
    assert binarize_seg("WMH", wmh).tolist() == [False, True, True, True]
    assert binarize_seg("WMH", wmh, wmh_other_pathology=False).tolist() == [False, True, False, True]
    assert binarize_seg("MSLUB", np.array([0.0, 0.4])).tolist() == [False, True]


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_mslub_official_archive_and_mirror_layouts(tmp_path):
    root = tmp_path / "MSLUB"
    # The official archive: patientXX/patientXX_*.nii.gz with raw/ inside, no coregistered/.
    for name in ("T2W", "consensus_gt", "brainmask"):
        _touch(root / "patient03" / f"patient03_{name}.nii.gz")
    _touch(root / "patient03" / "raw" / "patient03_T2W.nii.gz")
    # The mirror the workflow downloads: coregistered/patientXX/, one patient with prefixed names.
    for name in ("T2W", "consensus_gt", "brainmask"):
        _touch(root / "coregistered" / "patient01" / f"{name}.nii.gz")
    _touch(root / "coregistered" / "patient05" / "T2W.nii.gz")
    _touch(root / "coregistered" / "patient05" / "patient05_consensus_gt.nii.gz")
    _touch(root / "coregistered" / "patient05" / "patient05_brainmask.nii.gz")
    assert list_subjects("MSLUB", tmp_path, "T2") == ["patient01", "patient03", "patient05"]
    official = raw_paths("MSLUB", tmp_path, "patient03", "T2")
    assert official.image == root / "patient03" / "patient03_T2W.nii.gz"
    assert (official.seg.name, official.mask.name) == ("patient03_consensus_gt.nii.gz", "patient03_brainmask.nii.gz")
    mirror = raw_paths("MSLUB", tmp_path, "patient01", "T2")
    assert mirror.image == root / "coregistered" / "patient01" / "T2W.nii.gz"
    prefixed = raw_paths("MSLUB", tmp_path, "patient05", "T2")
    assert (prefixed.image.name, prefixed.seg.name) == ("T2W.nii.gz", "patient05_consensus_gt.nii.gz")
    check_raw("MSLUB", tmp_path, ["patient01", "patient03", "patient05"], "T2", need_mask=True)
    # Nothing there yet: the mirror's paths, which the download rule fills.
    assert (
        raw_paths("MSLUB", tmp_path, "patient09", "T2").mask == root / "coregistered" / "patient09" / "brainmask.nii.gz"
    )
