"""`patch2loc bids`: names, the scan selection, and every refusal (one line, exit 2,
nothing written). The scoring itself is predict's (test_bids_app.py runs it end to end)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.helpers.bids import SPACING, make_bundle
from tests.helpers.safety import refused

from patch2loc.bids.demo import scan_relpaths, write_demo_bids
from patch2loc.bids.description import link_for
from patch2loc.bids.names import derivative_paths

pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("bids")
    return write_demo_bids(base / "raw", spacing=SPACING), make_bundle(base / "model")


@pytest.fixture()
def case(built, tmp_path):
    """A copy of the demo BIDS set and the T2 bundle in tmp_path (refusals must leave it as it was)."""
    raw, bundle = built
    shutil.copytree(raw, tmp_path / "raw")
    shutil.copy(bundle, tmp_path / bundle.name)
    return tmp_path / "raw", tmp_path / bundle.name


def argv(raw: Path, out: Path, bundle: Path, *extra: str) -> list[str]:
    return ["bids", str(raw), str(out), "participant", "--model", str(bundle), "--device", "cpu", "--quiet", *extra]


# ---------------------------------------------------------------- names


def test_derivative_names_keep_the_scans_entities_in_the_specifications_order():
    paths = derivative_paths({"subject": "01", "session": "1", "suffix": "T2w"})
    assert paths["heatmap"] == "sub-01/ses-1/anat/sub-01_ses-1_space-native_desc-anomaly_T2w.nii.gz"
    assert paths["atlas_mask"] == "sub-01/ses-1/anat/sub-01_ses-1_space-atlas_desc-anomaly_mask.nii.gz"
    assert paths["components"].endswith("sub-01_ses-1_space-native_desc-anomaly_components.tsv")
    no_session = derivative_paths(
        {"subject": "02", "run": "2", "acquisition": "hi", "reconstruction": "norm", "suffix": "T1w"}
    )
    assert no_session["heatmap"] == "sub-02/anat/sub-02_acq-hi_rec-norm_run-2_space-native_desc-anomaly_T1w.nii.gz"
    assert no_session["heatmap_json"].endswith("_desc-anomaly_T1w.json")
    assert no_session["brain"].endswith("sub-02_acq-hi_rec-norm_run-2_space-native_desc-brain_mask.nii.gz")


def test_dataset_links_are_relative_inside_the_dataset_and_file_uris_outside(tmp_path):
    raw = tmp_path / "raw"
    (raw / "derivatives" / "masks").mkdir(parents=True)
    assert link_for(raw, raw / "derivatives" / "p2l", raw) == "../../"
    assert link_for(raw / "derivatives" / "masks", raw / "derivatives" / "p2l", raw) == "../masks/"
    assert link_for(raw, tmp_path / "elsewhere", raw) == raw.resolve().as_uri()


# ---------------------------------------------------------------- refusals: one line, exit 2, nothing written


def test_a_folder_that_is_not_bids_is_refused(case, tmp_path, capsys):
    raw, bundle = case
    (raw / "dataset_description.json").unlink()
    line = refused(argv(raw, tmp_path / "out", bundle), "not a BIDS dataset", tmp_path, capsys)
    assert str(raw) in line
    refused(
        argv(raw / "derivatives" / "masks", tmp_path / "out", bundle), "must be a raw BIDS dataset", tmp_path, capsys
    )


def test_a_participant_or_session_label_that_does_not_exist_is_refused(case, tmp_path, capsys):
    raw, bundle = case
    line = refused(
        argv(raw, tmp_path / "out", bundle, "--participant-label", "01", "sub-07"),
        "no participant sub-07 in this dataset",
        tmp_path,
        capsys,
    )
    assert "it has sub-01, sub-02" in line
    refused(argv(raw, tmp_path / "out", bundle, "--session-label", "3"), "no session ses-3", tmp_path, capsys)


def test_a_scan_of_the_other_modality_is_refused(case, tmp_path, capsys):
    raw, bundle = case
    for name, selection, needle in (
        ("t1.json", {"t1w": {"session": "1"}}, "selects T1w scans, but the model bundle is T2"),
        ("suffix.json", {"t2w": {"suffix": "T1w"}}, "the T2 bundle scores anat/T2w only"),
    ):
        (tmp_path / name).write_text(json.dumps(selection))
        refused(
            argv(raw, tmp_path / "out", bundle, "--bids-filter-file", str(tmp_path / name)), needle, tmp_path, capsys
        )


def test_a_dataset_without_a_usable_scan_is_refused(case, tmp_path, capsys):
    raw, bundle = case
    for rel in scan_relpaths():
        if rel.endswith("_T2w.nii.gz"):
            (raw / rel).unlink()
            (raw / rel.replace(".nii.gz", ".json")).unlink()
    line = refused(argv(raw, tmp_path / "out", bundle), "no T2w scan", tmp_path, capsys)
    assert "holds 3 T1w scan(s) there: score them with the T1 bundle" in line


def test_output_folders_that_would_mix_with_the_data_are_refused(case, tmp_path, capsys):
    raw, bundle = case
    refused(argv(raw, raw / "p2l", bundle), "not under its derivatives/ folder", tmp_path, capsys)
    refused(argv(raw, raw, bundle), "OUTPUT_DIR", tmp_path, capsys)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    refused(argv(raw, tmp_path / "used", bundle), "holds files that patch2loc did not write", tmp_path, capsys)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "dataset_description.json").write_text(
        json.dumps(
            {
                "Name": "x",
                "BIDSVersion": "1.10.0",
                "DatasetType": "derivative",
                "GeneratedBy": [{"Name": "patch2loc", "ModelBundle": {"Sha256": "0" * 64, "File": "t1.zip"}}],
            }
        )
    )
    refused(argv(raw, tmp_path / "other", bundle), "holds the derivatives of another model bundle", tmp_path, capsys)


def test_flags_of_the_other_level_are_refused(case, tmp_path, capsys):
    raw, bundle = case
    refused(
        ["bids", str(raw), str(tmp_path / "out"), "group", "--model", str(bundle)],
        "--model: belongs to the participant level",
        tmp_path,
        capsys,
    )
    refused(["bids", str(raw), str(tmp_path / "out"), "group"], "Run the participant level first", tmp_path, capsys)
    refused(
        argv(raw, tmp_path / "out", bundle, "--seg-derivatives", str(raw)),
        "belongs to the group level",
        tmp_path,
        capsys,
    )
