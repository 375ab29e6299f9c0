"""`patch2loc bids` end to end on the demo's BIDS set.

Two participants (sub-01 with two sessions, sub-02 without a session level), T1w and T2w each; a
tiny T2 DAE bundle (tests/helpers/bids.py). The participant level runs once for the module (three T2w
scans, about 20 s); the tests read what it wrote: names and sidecars, pybids indexing the output
as a derivatives dataset, a rerun that skips, --participant-label, the group level, and the BIDS
validator on the input and on the output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.bids import SPACING, THRESHOLDS, crop_prepare, make_bundle, participant_argv

from patch2loc import cli
from patch2loc.bids.demo import write_demo_bids
from patch2loc.bids.names import derivative_paths

bids = pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")
pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
T2W = [("01", "1"), ("01", "2"), ("02", None)]


def entities(sub: str, ses: str | None) -> dict:
    return {"subject": sub, **({"session": ses} if ses else {}), "suffix": "T2w"}


def participant(raw: Path, out: Path, bundle: Path, *extra: str) -> int:
    return cli.main(participant_argv(raw, out, bundle, *extra))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("bids_app")
    raw = write_demo_bids(base / "raw", spacing=SPACING)
    bundle = make_bundle(base / "model")
    out = raw / "derivatives" / "patch2loc"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
        assert participant(raw, out, bundle) == 0
        yield raw, bundle, out, mp


def test_every_t2w_scan_gets_its_derivatives_under_bids_names(run):
    raw, bundle, out, _ = run
    for sub, ses in T2W:
        names = derivative_paths(entities(sub, ses))
        folder = f"sub-{sub}/" + (f"ses-{ses}/" if ses else "") + "anat/"
        stem = f"sub-{sub}" + (f"_ses-{ses}" if ses else "")
        assert names["heatmap"] == f"{folder}{stem}_space-native_desc-anomaly_T2w.nii.gz"
        for path in names.values():
            assert (out / path).is_file(), path
        scan = nib.load(raw / f"{folder}{stem}_T2w.nii.gz")
        heat = nib.load(out / names["heatmap"])
        assert heat.shape == scan.shape and np.allclose(heat.affine, scan.affine)  # on the scan's own grid
        assert nib.load(out / names["atlas_heatmap"]).shape == (32, 32, 32)
        mask = np.asarray(nib.load(out / names["mask"]).dataobj)
        meta = json.loads((out / names["heatmap_json"]).read_text())
        assert np.array_equal(
            mask > 0,
            (np.asarray(heat.dataobj) > meta["Threshold"]) & (np.asarray(nib.load(out / names["brain"]).dataobj) > 0),
        )
        raw_uri = f"bids:raw:{folder}{stem}_T2w.nii.gz"
        assert meta["Sources"] == [raw_uri, f"bids:masks:{folder}{stem}_space-T2w_desc-brain_mask.nii.gz"]
        assert meta["SpatialReference"] == raw_uri and meta["SkullStripped"] is True
        assert (meta["Method"], meta["Folds"], meta["MedianSize"]) == ("DAE", [0, 1], 3)
        assert meta["Threshold"] == pytest.approx(np.mean(list(THRESHOLDS.values())))
        assert meta["ModelBundle"]["Sha256"] == __import__("hashlib").sha256(bundle.read_bytes()).hexdigest()
        atlas_meta = json.loads((out / names["atlas_heatmap_json"]).read_text())
        assert atlas_meta["SpatialReference"] == "bids::atlas/image.nii.gz"
        mask_meta = json.loads((out / names["mask_json"]).read_text())
        assert mask_meta["Type"] == "Lesion" and mask_meta["Sources"] == [f"bids::{names['heatmap']}"]
        table = (out / names["components"]).read_text().splitlines()
        assert table[0].split("\t")[:3] == ["component", "voxels", "volume_ml"] and len(table) > 1
        columns = json.loads((out / names["components_json"]).read_text())
        assert set(table[0].split("\t")) <= set(columns)
        assert "niivue" in (out / names["viewer"]).read_text().lower()
        assert (out / names["overview"]).read_bytes().startswith(b"\x89PNG")
    assert not list(out.rglob("*_T1w.nii.gz"))  # the T2 bundle scores T2w scans only
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["DatasetLinks"] == {"raw": "../../", "masks": "../masks/"}
    generated = desc["GeneratedBy"][0]
    assert generated["Name"] == "patch2loc" and generated["Version"] and len(generated["ModelBundle"]["Sha256"]) == 64


def test_pybids_indexes_the_output_as_derivatives_and_finds_every_heatmap(run):
    raw, _, out, _ = run
    layout = bids.BIDSLayout(raw, derivatives=str(out))
    deriv = layout.derivatives["patch2loc"]
    assert deriv.is_derivative and deriv.description["DatasetType"] == "derivative"
    for sub, ses in T2W:
        query = {"subject": sub, "session": ses or bids.layout.Query.NONE}
        for space in ("native", "atlas"):
            found = layout.get(
                scope="derivatives", desc="anomaly", space=space, suffix="T2w", extension=".nii.gz", **query
            )
            assert [Path(f.path).name for f in found] == [
                Path(derivative_paths(entities(sub, ses))["heatmap" if space == "native" else "atlas_heatmap"]).name
            ]
            assert found[0].get_metadata()["Method"] == "DAE"  # its sidecar, found by pybids' inheritance
        masks = layout.get(scope="derivatives", desc="anomaly", suffix="mask", extension=".nii.gz", **query)
        assert len(masks) == 2
    assert not layout.get(scope="derivatives", extension=".nii.gz", datatype="anat", subject="01", session="3")


def test_a_rerun_skips_done_scans_and_participant_label_restricts_the_work(run, tmp_path, capsys):
    raw, bundle, out, _ = run
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert cli.main(participant_argv(raw, out, bundle, quiet=False)) == 0
    err = capsys.readouterr().err
    assert "0 scored, 3 skipped" in err and "0 scan(s) published, 3 unchanged" in err
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    changed = {p.name for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert changed <= {"dataset_description.json", ".bidsignore", "README"}, changed  # rewritten, same bytes
    assert all(before[p][1] == after[p][1] for p in before)

    other = tmp_path / "only02"
    assert participant(raw, other, bundle, "--participant-label", "sub-02") == 0
    heatmaps = sorted(p.relative_to(other).as_posix() for p in other.rglob("*_desc-anomaly_T2w.nii.gz"))
    assert heatmaps == [
        "sub-02/anat/sub-02_space-atlas_desc-anomaly_T2w.nii.gz",
        "sub-02/anat/sub-02_space-native_desc-anomaly_T2w.nii.gz",
    ]
    assert sorted(p.name for p in (other / ".predict").glob("*_summary.json")) == ["sub-02_T2w_summary.json"]
    assert not (other / "sub-01").exists()


def test_a_changed_scan_is_redone_and_a_failed_redo_leaves_no_stale_derivatives(run, tmp_path, monkeypatch, capsys):
    raw, bundle, out, _ = run
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy, ignore=shutil.ignore_patterns("patch2loc"))
    monkeypatch.chdir(copy)  # relative paths, as typed in a shell
    relative = [
        "bids",
        ".",
        "derivatives/p2l",
        "participant",
        "--model",
        str(bundle),
        "--mask-derivatives",
        "derivatives/masks",
        "--device",
        "cpu",
        "--quiet",
        "--participant-label",
        "02",
    ]
    out2 = copy / "derivatives" / "p2l"
    assert cli.main(relative) == 0
    names = derivative_paths(entities("02", None))
    meta = json.loads((out2 / names["heatmap_json"]).read_text())
    assert meta["Sources"][1] == "bids:masks:sub-02/anat/sub-02_space-T2w_desc-brain_mask.nii.gz"
    scan = copy / "sub-02" / "anat" / "sub-02_T2w.nii.gz"
    img = nib.load(scan)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[::-1].copy(), img.affine, img.header), scan)  # another scan
    assert cli.main(relative) == 0
    assert json.loads((out2 / names["heatmap_json"]).read_text())["RunFingerprint"] != meta["RunFingerprint"]
    scan.write_bytes(b"not a NIfTI")  # a redo that fails: predict and bids remove the scan's earlier outputs
    capsys.readouterr()
    assert cli.main(relative) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "sub-02_T2w.nii.gz" in err[0] and "earlier derivatives were removed" in err[1], err
    assert not list(out2.rglob("sub-02*")) and (out2 / "dataset_description.json").exists()


def test_group_level_table_and_report_with_segmentation_metrics(run):
    raw, _, out, _ = run
    assert (
        cli.main(
            ["bids", str(raw), str(out), "group", "--seg-derivatives", str(raw / "derivatives" / "lesions"), "--quiet"]
        )
        == 0
    )
    lines = (out / "group_anomaly.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    rows = [dict(zip(head, line.split("\t"))) for line in lines[1:]]
    assert [(r["participant_id"], r["session_id"]) for r in rows] == [
        ("sub-01", "ses-1"),
        ("sub-01", "ses-2"),
        ("sub-02", "n/a"),
    ]
    for r, (sub, ses) in zip(rows, T2W):
        table = (out / derivative_paths(entities(sub, ses))["components"]).read_text().splitlines()[1:]
        volumes = [float(line.split("\t")[2]) for line in table]
        assert float(r["flagged_ml"]) == pytest.approx(sum(volumes), rel=1e-5)
        assert int(r["n_components"]) == len(volumes) and float(r["largest_component_ml"]) == pytest.approx(
            max(volumes), rel=1e-5
        )
    assert all(0 <= float(r["auprc"]) <= 1 for r in rows[:2]) and rows[2]["auprc"] == "n/a"  # sub-02 has no lesion
    report = (out / "report.html").read_text()
    for sub, ses in T2W:
        assert f'href="{derivative_paths(entities(sub, ses))["viewer"]}"' in report
    assert 'class="sortable"' in report


# ---------------------------------------------------------------- the BIDS validator


def _npm_validator() -> str | None:
    found = os.environ.get("PATCH2LOC_BIDS_VALIDATOR") or shutil.which("bids-validator")
    local = REPO / ".tools" / "bids-validator" / "node_modules" / ".bin" / "bids-validator"
    return found or (str(local) if local.exists() else None)


def _schema_validator() -> str | None:
    local = Path(sys.executable).parent / "bids-validator-deno"
    return shutil.which("bids-validator-deno") or (str(local) if local.exists() else None)


def test_the_npm_bids_validator_passes_the_input_dataset(run):
    exe = _npm_validator()
    if exe is None:
        pytest.skip("npm's bids-validator is not installed (.ci/run installs it into .tools/ where npm is available)")
    raw = run[0]
    done = subprocess.run([exe, str(raw), "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["issues"]["errors"] == [], report["issues"]["errors"]
    assert report["summary"]["subjects"] == ["01", "02"]


def _schema_errors(folder: Path) -> list[tuple[str, str]]:
    done = subprocess.run(
        [_schema_validator(), str(folder), "--format", "json"], capture_output=True, text=True, timeout=300
    )
    issues = json.loads(done.stdout)["issues"]["issues"]
    return [(i["code"], i.get("location")) for i in issues if i["severity"] == "error"]


def test_the_schema_validator_passes_the_input_and_the_derivatives(run):
    """The official validator's schema-based release (PyPI bids-validator-deno) checks derivative
    datasets: names against the specification's derivative rules, required sidecar fields
    (SpatialReference for a space-<label> of our own, SkullStripped, ...) and
    dataset_description.json. npm's bids-validator (1.x) has no derivative rules."""
    if _schema_validator() is None:
        pytest.skip("bids-validator-deno is not installed (pip install bids-validator-deno; the test extra has it)")
    raw, _, out, _ = run
    assert _schema_errors(raw) == []
    assert _schema_errors(out) == []
    broken = out.parent / "broken"
    shutil.copytree(out, broken, ignore=shutil.ignore_patterns(".predict"))
    sidecar = broken / derivative_paths(entities("02", None))["heatmap_json"]
    meta = json.loads(sidecar.read_text())
    del meta["SpatialReference"]
    sidecar.write_text(json.dumps(meta))
    (broken / "sub-02" / "anat" / "sub-02_space-native_desc-anomaly_T2.nii.gz").write_bytes(b"")
    errors = _schema_errors(broken)  # the check can fail: a missing required field, a name outside the rules
    assert ("SIDECAR_KEY_REQUIRED", f"/{derivative_paths(entities('02', None))['heatmap']}") in errors
    assert any(code == "NOT_INCLUDED" and re.search(r"_T2\.nii\.gz$", loc) for code, loc in errors), errors
