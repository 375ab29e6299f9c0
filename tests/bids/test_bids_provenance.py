"""The BIDS App's provenance and leftovers: every derivative of a T1T2 bundle names every scan and mask it
was made from under `Sources` (the T2w and its mask too, not only the T1w), with the bundle's contrasts and
the channel checks; a participant run in which every scan fails removes the OUTPUT_DIR it created (and
leaves one that was there as it was). The demo's BIDS set, tiny DAE bundles and the copied "preprocessing"
of tests/helpers/bids.py."""

from __future__ import annotations

import json

import pytest
from tests.helpers.bids import crop_prepare, demo_t1t2, make_bundle, participant_argv
from tests.helpers.safety import snapshot

from patch2loc import cli
from patch2loc.bids.names import derivative_paths
from patch2loc.errors import InputError

pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("bids_provenance")
    return *demo_t1t2(base), make_bundle(base / "t1", "T1")


@pytest.fixture(autouse=True)
def _crop(monkeypatch):
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)


def test_every_derivative_of_a_t1t2_model_names_every_scan_and_mask(made, tmp_path, capsys):
    raw, bundle, _ = made
    out = tmp_path / "p2l"
    assert cli.main(participant_argv(raw, out, bundle, "--participant-label", "02")) == 0
    names = derivative_paths({"subject": "02", "suffix": "T1w"})
    expected = [
        "bids:raw:sub-02/anat/sub-02_T1w.nii.gz",
        "bids:masks:sub-02/anat/sub-02_space-T1w_desc-brain_mask.nii.gz",
        "bids:raw:sub-02/anat/sub-02_T2w.nii.gz",
        "bids:masks:sub-02/anat/sub-02_space-T2w_desc-brain_mask.nii.gz",
    ]
    for key in ("heatmap_json", "atlas_heatmap_json", "brain_json"):
        meta = json.loads((out / names[key]).read_text())
        assert meta["Sources"] == expected, (key, meta["Sources"])
    heat = json.loads((out / names["heatmap_json"]).read_text())
    assert heat["Contrasts"] == ["T1", "T2"]
    assert heat["ContrastChecks"]["contrasts"] == ["T1", "T2"] and len(heat["ContrastChecks"]["coverage"]) == 2


def test_a_one_contrast_model_names_its_scan_and_mask(made, tmp_path):
    raw, _, bundle = made
    out = tmp_path / "p2l"
    assert cli.main(participant_argv(raw, out, bundle, "--participant-label", "02")) == 0
    meta = json.loads((out / derivative_paths({"subject": "02", "suffix": "T1w"})["heatmap_json"]).read_text())
    assert meta["Sources"] == [
        "bids:raw:sub-02/anat/sub-02_T1w.nii.gz",
        "bids:masks:sub-02/anat/sub-02_space-T1w_desc-brain_mask.nii.gz",
    ]
    assert meta["Contrasts"] == ["T1"] and "ContrastChecks" not in meta


def _fails(*args, **kwargs):
    raise InputError("the chain failed here (a crafted failure)")


def test_a_run_in_which_every_scan_fails_removes_the_output_dir_it_made(made, tmp_path, capsys, monkeypatch):
    raw, _, bundle = made
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _fails)
    out = tmp_path / "p2l"
    before = snapshot(raw)
    capsys.readouterr()
    assert cli.main(participant_argv(raw, out, bundle, quiet=False)) == 3  # the demo's three T1w scans
    err = capsys.readouterr().err
    assert not out.exists(), sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert "nothing published" in err and snapshot(raw) == before


def test_an_output_dir_that_was_there_is_left_as_it_was(made, tmp_path, monkeypatch):
    raw, _, bundle = made
    out = tmp_path / "p2l"
    assert cli.main(participant_argv(raw, out, bundle, "--participant-label", "02")) == 0
    kept = snapshot(out)
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _fails)
    assert cli.main(participant_argv(raw, out, bundle, "--participant-label", "01")) == 2
    assert snapshot(out) == kept
