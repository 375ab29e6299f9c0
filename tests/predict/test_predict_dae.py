"""`patch2loc predict --method DAE` and `patch2loc export --method DAE`.

The DAE is applied like Patch2Loc: from checkpoints, a run's folds (--from-run) or a bundle
(--model); the ensemble is the mean of the folds' raw maps, then the shared median filter + mask.
The DAEs here are untrained tiny UNets (width 4) with fixed seeds: what is tested is the path the
maps take, not their quality. The run is test_bundle's (copied "preprocessing":
fake_chain.fake_prepare) with two DAE folds and their thresholds added.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.bundle import make_run
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.safety import make_case, predict_argv, refused

from patch2loc import cli
from patch2loc.run.checkpoint import read_checkpoint
from patch2loc.run.layout import RunLayout
from patch2loc.methods.dae.score import anomaly_map, load_model
from patch2loc.scoring import postprocess
from tests.helpers.checkpoints import dae_checkpoint

DAE_THRESHOLDS = {0: 0.25, 1: 0.75}  # not Patch2Loc's (3.5, 4.5): the summary shows whose were used


def expected_heatmap(checkpoints: list[Path], c: dict, median_size: int) -> np.ndarray:
    """The heatmap computed here, independently of predict: the mean of the DAEs' anomaly maps,
    then the shared post-processing."""
    image = nib.load(c["image"]).get_fdata(dtype=np.float32)
    mask = np.asarray(nib.load(c["mask"]).dataobj) > 0
    maps = [anomaly_map(load_model(p)[0], image, mask) for p in checkpoints]
    return postprocess(np.mean(np.stack(maps).astype(np.float64), axis=0).astype(np.float32), mask, median_size)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """test_bundle's run with two DAE folds (models/DAE/T1/fold{k}) and their thresholds, and its
    DAE bundle."""
    base = tmp_path_factory.mktemp("dae_bundle")
    c = make_case(base / "in")
    run = make_run(base / "wf", c)
    layout = RunLayout(run)
    for k, thr in DAE_THRESHOLDS.items():
        dae_checkpoint(Path(layout.checkpoint("T1", k, "DAE")), seed=k)
        Path(layout.threshold("DAE", "T1", f"fold{k}")).parent.mkdir(parents=True)
        Path(layout.threshold("DAE", "T1", f"fold{k}")).write_text(json.dumps({"threshold": thr}))
    bundle = base / "dae_t1.zip"
    assert cli.main(["export", str(run), "--modality", "T1", "--method", "DAE", "--out", str(bundle), "--quiet"]) == 0
    return c, run, bundle


@pytest.fixture()
def case(built, tmp_path, monkeypatch):
    c, run, bundle = built
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    (tmp_path / "b").mkdir()
    shutil.copy(bundle, tmp_path / "b" / bundle.name)
    return c, run, tmp_path / "b" / bundle.name


def argv(c: dict, out: Path, *extra: str) -> list[str]:
    return predict_argv(c, out, *extra, ckpt=False)


# ---------------------------------------------------------------- --checkpoint


def test_dae_checkpoints_give_the_mean_anomaly_map_post_processed(case, tmp_path):
    c, run, _ = case
    ckpts = [Path(RunLayout(run).checkpoint("T1", k, "DAE")) for k in DAE_THRESHOLDS]
    one = ["--method", "DAE", "--checkpoint", str(ckpts[0]), "--median-size", "3"]
    assert cli.main(argv(c, tmp_path / "one" / "h.nii.gz", *one)) == 0
    heat = nib.load(tmp_path / "one" / "h.nii.gz")
    np.testing.assert_array_equal(np.asarray(heat.dataobj), expected_heatmap(ckpts[:1], c, 3))
    assert np.count_nonzero(np.asarray(heat.dataobj)) > 0
    summary = json.loads((tmp_path / "one" / "h_summary.json").read_text())
    assert summary["method"] == "DAE" and summary["patches"] is None and summary["threshold"] is None
    # Two folds: the mean of their raw maps, then the median filter and mask once.
    both = ["--method", "DAE", "--checkpoint", str(ckpts[0]), "--checkpoint", str(ckpts[1]), "--median-size", "3"]
    assert cli.main(argv(c, tmp_path / "two" / "h.nii.gz", *both)) == 0
    two = np.asarray(nib.load(tmp_path / "two" / "h.nii.gz").dataobj)
    np.testing.assert_array_equal(two, expected_heatmap(ckpts, c, 3))
    assert not np.array_equal(two, np.asarray(heat.dataobj))
    # Patch2Loc's scoring flags are ignored (a stride of 7 on 16-pixel slices would be refused for it).
    ignored = ["--stride", "7", "--centres", "all", "--batch-size", "1", "--amp", "bf16"]
    assert cli.main(argv(c, tmp_path / "flags" / "h.nii.gz", *one, *ignored)) == 0
    assert (tmp_path / "flags" / "h.nii.gz").read_bytes() == (tmp_path / "one" / "h.nii.gz").read_bytes()
    states = [json.loads((tmp_path / d / "h_summary.json").read_text())["run_state"] for d in ("one", "flags")]
    assert states[0]["fingerprint"] == states[1]["fingerprint"]  # so a folder run does not redo its scans
    assert states[0]["settings"]["stride"] is None


def test_a_checkpoint_of_the_other_method_or_thresh_is_refused(case, tmp_path, capsys):
    c, run, _ = case
    dae = RunLayout(run).checkpoint("T1", 0, "DAE")
    out = tmp_path / "o" / "h.nii.gz"
    line = refused(
        argv(c, out, "--method", "DAE", "--checkpoint", str(c["ckpt"])),
        "a Patch2Loc checkpoint, not a DAE one",
        tmp_path,
        capsys,
    )
    assert line.endswith("pass --method Patch2Loc.")
    line = refused(argv(c, out, "--checkpoint", dae), "a DAE checkpoint, not a Patch2Loc one", tmp_path, capsys)
    assert str(dae) in line and line.endswith("pass --method DAE.")
    refused(
        argv(c, out, "--method", "Thresh", "--checkpoint", dae),
        "--method Thresh: Thresh is not a trained method",
        tmp_path,
        capsys,
    )
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- --from-run and the bundle


def test_dae_bundle_gives_the_outputs_of_from_run_with_the_dae_folds(case, tmp_path):
    c, run, bundle = case
    with zipfile.ZipFile(bundle) as zf:
        manifest, settings = (json.loads(zf.read(n)) for n in ("manifest.json", "settings.json"))
        zf.extract("folds/fold1.pt", tmp_path / "x")
    assert (manifest["method"], settings["method"]) == ("DAE", "DAE")
    assert [(f["fold"], f["threshold"]) for f in settings["folds"]] == list(DAE_THRESHOLDS.items())
    weights = read_checkpoint(tmp_path / "x" / "folds" / "fold1.pt", method="DAE")
    assert "optimizer" not in weights and "loss_rows" not in weights  # what only resuming needs
    assert cli.main(argv(c, tmp_path / "m" / "x.nii.gz", "--model", str(bundle))) == 0
    assert cli.main(argv(c, tmp_path / "md" / "x.nii.gz", "--model", str(bundle), "--method", "DAE")) == 0
    assert (tmp_path / "md" / "x.nii.gz").read_bytes() == (tmp_path / "m" / "x.nii.gz").read_bytes()
    assert (
        cli.main(argv(c, tmp_path / "r" / "x.nii.gz", "--from-run", str(run), "--modality", "T1", "--method", "DAE"))
        == 0
    )
    for name in ("x.nii.gz", "x_lesions.nii.gz", "x_native.nii.gz", "x_native_lesions.nii.gz", "x_components.csv"):
        assert (tmp_path / "m" / name).read_bytes() == (tmp_path / "r" / name).read_bytes(), name
    dae_folds = [Path(RunLayout(run).checkpoint("T1", k, "DAE")) for k in DAE_THRESHOLDS]
    np.testing.assert_array_equal(
        np.asarray(nib.load(tmp_path / "r" / "x.nii.gz").dataobj), expected_heatmap(dae_folds, c, 3)
    )  # the run's median size
    summaries = [json.loads((tmp_path / d / "x_summary.json").read_text()) for d in ("m", "r")]
    assert [s["method"] for s in summaries] == ["DAE", "DAE"]
    assert summaries[0]["threshold"] == summaries[1]["threshold"] == np.mean(list(DAE_THRESHOLDS.values()))
    assert summaries[1]["checkpoints"] == [str(p) for p in dae_folds]
    assert os.listdir(tmp_path / "tmp") == []  # the unpacked copy is gone


def test_method_contradicting_the_bundle_and_thresh_exports_are_refused(case, tmp_path, capsys):
    c, run, bundle = case
    refused(
        argv(c, tmp_path / "o.nii.gz", "--model", str(bundle), "--method", "Patch2Loc"),
        "a DAE model bundle, but --method Patch2Loc",
        tmp_path,
        capsys,
    )
    refused(
        argv(c, tmp_path / "o.nii.gz", "--model", str(bundle), "--method", "Thresh"),
        "--method Thresh: Thresh is not a trained method",
        tmp_path,
        capsys,
    )
    refused(
        ["export", str(run), "--modality", "T1", "--method", "Thresh", "--out", str(tmp_path / "t.zip")],
        "no model to export",
        tmp_path,
        capsys,
    )
    bare = Path(shutil.copytree(run, tmp_path / "wf" / "r"))
    shutil.rmtree(Path(RunLayout(bare).checkpoint("T1", 0, "DAE")).parents[1])  # models/DAE/T1
    refused(
        ["export", str(bare), "--modality", "T1", "--method", "DAE", "--out", str(tmp_path / "d.zip")],
        "no DAE T1 best.pt",
        tmp_path,
        capsys,
    )
    refused(
        argv(c, tmp_path / "o.nii.gz", "--from-run", str(bare), "--modality", "T1", "--method", "DAE"),
        "Train the run's DAE T1 models first",
        tmp_path,
        capsys,
    )


def _folder_bundle(run: Path, folder: Path, name: str, data: bytes, **manifest_fields) -> Path:
    """The run's DAE bundle as a folder, one member replaced and its manifest entry rehashed (the
    content itself must then be caught)."""
    import hashlib

    assert cli.main(["export", str(run), "--modality", "T1", "--method", "DAE", "--out", str(folder), "--quiet"]) == 0
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (folder / "manifest.json").write_text(json.dumps({**manifest, **manifest_fields}))
    return folder


@pytest.mark.parametrize(
    "method,needle",
    [("Thresh", "a bundle of method 'Thresh'"), ("Patch2Loc", "manifest.json says DAE T1, settings.json Patch2Loc T1")],
)
def test_a_bundle_whose_method_is_not_a_trained_one_or_disagrees_is_refused(case, tmp_path, capsys, method, needle):
    c, run, bundle = case
    settings = json.loads(zipfile.ZipFile(bundle).read("settings.json"))
    data = json.dumps({**settings, "method": method}).encode()
    folder = _folder_bundle(
        run, tmp_path / "folder", "settings.json", data, **({"method": "Thresh"} if method == "Thresh" else {})
    )
    refused(argv(c, tmp_path / "o.nii.gz", "--model", str(folder)), needle, tmp_path, capsys)


def test_a_dae_bundle_holding_patch2loc_weights_is_refused(case, tmp_path, capsys):
    c, run, bundle = case
    folder = _folder_bundle(run, tmp_path / "folder", "folds/fold0.pt", c["ckpt"].read_bytes())
    line = refused(
        argv(c, tmp_path / "o.nii.gz", "--model", str(folder)),
        "a Patch2Loc checkpoint, not a DAE one",
        tmp_path,
        capsys,
    )
    assert line.startswith(f"patch2loc predict: error: {folder}:folds/fold0.pt: ") and "--method" not in line
