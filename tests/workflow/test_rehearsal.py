"""The offline rehearsal, small: fixtures served on 127.0.0.1 -> real download/extract/ROBEX/
registration/N4/Nyul/training/scoring rules -> Table 1; and each dataset's layout read back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from patch2loc.data.download import read_checksums, sha256sum
from patch2loc.data.unpack import extract
from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, list_subjects, raw_paths
from patch2loc.data.wmh import fetch_subjects, needed_files, site_name
from patch2loc.run.configfiles import load as load_configfiles
from rehearsals.real.fixtures import ODD_IXI, Plan, build_all, ixi_ids, write_splits
from rehearsals.real.server import FileServer

REPO = Path(__file__).resolve().parents[2]
COPIED = ["Snakefile", "rules", "workflow", "config", "envs", "splits", "src", "profiles"]
SMALL = Plan(
    ixi_train=3,
    ixi_val=1,
    ixi_test=1,
    lesion_subjects={"BraTS21": 1, "MSLUB": 1, "ATLAS_v2": 1, "WMH": 3},
    render_spacing=4.0,
    voxel_scale=3.0,
    real_voxels=("WMH",),
    wmh_test=2,
)
SMALL_WMH = 3 + 1  # training subjects + the test/ subject in the split


def _local_wmh(path: str) -> str:
    """Where download_wmh puts a file of the dataset (checksum db key)."""
    for rel in needed_files():
        if path.endswith("/" + rel):
            folder = path[: -len(rel) - 1].split("/")
            return f"WMH/{site_name(folder[-2])}/{folder[-1]}/{rel}"
    raise AssertionError(path)


def _small_config(workdir: Path) -> str:
    cfg = load_configfiles([REPO / "config" / "rehearsal.yaml"])
    cfg.update(
        run_name="rehearsal_ci", raw_root="results/rehearsal_ci/raw", splits_dir="results/rehearsal_ci/fixtures/splits"
    )
    cfg["atlas"] = {
        "image": "results/rehearsal_ci/raw/SRI24/T1_brain.nii.gz",
        "mask": "results/rehearsal_ci/raw/SRI24/brain_mask.nii.gz",
    }
    # ROBEX (about 1.5 min per scan on a CPU) on the single ATLAS scan; the others use masks.
    cfg["datasets"].update(IXI={"skull_strip": "provided"}, ATLAS_v2={"skull_strip": "robex"})
    cfg["preprocess"].update(spacing=[6.0, 6.0, 6.0], target_shape=[32, 32, 20], n4_iterations=[10])
    cfg["patch2loc"].update(steps=20, patches_per_step=64, val_every=10, val_batches=1)
    cfg["dae"].update(steps=6, batch_size=4, val_every=3, val_batches=1)
    for block in ("ddpm", "pddpm", "cddpm"):  # 32-pixel slices: pDDPM's squares are 16 pixels
        cfg[block].update(steps=4, batch_size=2, val_every=2, val_batches=1)
    cfg["pddpm"]["patch_size"] = 16
    cfg["cddpm"]["pretrain"].update(steps=2, batch_size=2, val_every=2, val_batches=1)
    for block in ("ae", "vae"):
        cfg[block].update(steps=4, batch_size=2, val_every=2, val_batches=1)
    cfg["heatmap"].update(batch_size=2048)
    (workdir / "config" / "rehearsal_ci.yaml").write_text(yaml.safe_dump(cfg))
    return "config/rehearsal_ci.yaml"


def test_the_odd_ixi_subject_has_its_fold_0_role_of_splits_ixi(tmp_path):
    """IXI014-HH-1236 (4.98 mm T2 slices) is in the fixture's splits where splits/IXI.csv puts it
    in fold 0: validation."""
    for plan in (SMALL, Plan()):
        write_splits(tmp_path, ixi_ids(plan), {}, plan)
        fixture = pd.read_csv(tmp_path / "IXI.csv", dtype=str).set_index("subject_id")
        ours = pd.read_csv(REPO / "splits" / "IXI.csv", dtype=str)
        fold0 = ours[(ours["subject_id"] == ODD_IXI[0]) & (ours["fold"] == "0")]
        assert fold0["split"].tolist() == ["val"]
        assert fixture.loc[ODD_IXI[0], "split"] == "val" and fixture.loc[ODD_IXI[0], "fold"] == "0"


@pytest.mark.slow
def test_each_dataset_layout_is_read_from_its_fixture(tmp_path):
    plan = Plan(**{**SMALL.__dict__, "user_masks": ("IXI", "WMH"), "render_spacing": 6.0, "mslub_layout": "official"})
    subjects = build_all(tmp_path / "fx", tmp_path / "raw", plan)
    served, raw = tmp_path / "fx" / "served", tmp_path / "raw"
    # Unpack the served archives and fetch WMH the way the extract / download_wmh rules do.
    for modality in ("T1", "T2"):
        extract(served / "IXI" / f"IXI-{modality}.tar", raw / "IXI" / f"IXI-{modality}")
    listing = json.loads((served / "WMH" / "api" / "files.json").read_text())["data"]
    top = {(f["directoryLabel"] or f["label"]).split("/")[0] for f in listing}
    assert top == {"training", "test", "additional_annotations", "readme.pdf"}
    assert any(" " in (f["directoryLabel"] or "") for f in listing)  # test/Amsterdam/Philips_VU .PETMR_01./...
    assert {f["dataFile"]["checksum"]["type"] for f in listing} == {"SHA-1"}
    with FileServer(served) as server:
        fetched = fetch_subjects(
            subjects["WMH"],
            raw / "WMH",
            splits=("training", "test"),
            listing=server.url("WMH/api/files.json"),
            access=server.url("WMH/api/access/datafile/{id}"),
            checksum_db=raw / "checksums.tsv",
        )
        requests = dict(server.requests)
    assert len(fetched) == 2 * len(subjects["WMH"]) == len(subjects["wmh_fetched"])
    assert requests == {"WMH/api/files.json": 1, **{name: 1 for name in subjects["wmh_fetched"]}}
    for dataset in ("IXI", *LESION_DATASETS):
        for modality in ("T1", "T2") if dataset == "IXI" else MODALITIES[dataset]:
            assert list_subjects(dataset, raw, modality) == sorted(subjects[dataset]), (dataset, modality)
            for s in subjects[dataset]:
                scan = raw_paths(dataset, raw, s, modality)
                assert scan.image.exists() and (scan.seg is None or scan.seg.exists())
    # MSLUB, official archive: patientXX/patientXX_*, LPS without obliquity, the brain mask's origin
    # half a voxel off the ground truth's.
    mslub = raw_paths("MSLUB", raw, "patient01", "T2")
    assert mslub.image == raw / "MSLUB" / "patient01" / "patient01_T2W.nii.gz"
    image, gt, mask = (nib.load(p) for p in (mslub.image, mslub.seg, mslub.mask))
    assert nib.aff2axcodes(image.affine) == ("L", "P", "S") and np.allclose(image.affine, gt.affine)
    assert np.count_nonzero(image.affine[:3, :3]) == 3  # no obliquity
    offset = np.linalg.solve(gt.affine[:3, :3], mask.affine[:3, 3] - gt.affine[:3, 3])
    assert np.allclose(offset, -0.5)
    # WMH: 3 mm slices at the sites' real in-plane sizes; IXI014-HH-1236's T2 with its long voxels.
    for s in subjects["WMH"]:
        zooms = nib.load(raw_paths("WMH", raw, s, "T1").image).header.get_zooms()
        assert zooms[2] == pytest.approx(3.0) and 0.95 < min(zooms[:2]) and max(zooms[:2]) < 1.25, (s, zooms)
    odd = nib.load(raw_paths("IXI", raw, "IXI014-HH-1236", "T2").image).header.get_zooms()
    assert max(odd) > 4 * min(odd)


@pytest.mark.slow
@pytest.mark.long  # make test-long; make rehearse-real is the full one
def test_small_rehearsal_reaches_table1(tmp_path):
    from rehearsals.real.run import rehearse

    for name in COPIED:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    configfile = _small_config(tmp_path)
    summary = rehearse(
        configfile,
        plan=SMALL,
        cores=2,
        workdir=tmp_path,
        lifetime=1200,
        targets=[
            "table1",
            "bias",
            "results/rehearsal_ci/qc/WMH_T1.csv",
            "results/rehearsal_ci/qc/IXI_T1.csv",
            "results/rehearsal_ci/qc/IXI_T2.csv",
            "results/rehearsal_ci/qc/MSLUB_T2.csv",
        ],
    )
    check_small_rehearsal(summary, tmp_path)


def check_small_rehearsal(summary: dict, tmp_path: Path) -> None:
    """What the small rehearsal must show (a function: it can be run on a finished rehearsal)."""
    log = (tmp_path / "results" / "rehearsal_ci" / "rehearsal_snakemake.log").read_text()
    assert summary["returncode"] == 0, log[-5000:]
    # The interrupted and the corrupted transfers were each fetched twice, and only those.
    requests, wmh = summary["requests"], summary["subjects"]["wmh_fetched"]
    assert requests["IXI/IXI-T2.tar"] == 2 and requests["SRI24/sri24_spm8.zip"] == 2
    assert requests["IXI/IXI-T1.tar"] == 1 and requests["SRI24/nested/sri24_spm8.zip"] == 1
    assert requests["IXI/IXI.xls"] == 1  # the demographics, in Excel 97-2003 format as IXI serves it
    # WMH: file by file, only wmh.nii.gz and pre/T1.nii.gz of the split's subjects; the first interrupted.
    assert [requests[name] for name in wmh] == [2] + [1] * (len(wmh) - 1) and len(wmh) == 2 * SMALL_WMH
    assert {n for n in requests if n.startswith("WMH/api/access/")} == set(wmh)
    assert requests["WMH/api/files.json"] == 2  # once per attempt of download_wmh
    assert log.count("Error in rule download:") == 2  # each fault failed one attempt, the retry passed
    assert log.count("Error in rule download_wmh:") == 1
    out = tmp_path / "results" / "rehearsal_ci"
    served = out / "fixtures" / "served"
    db = read_checksums(out / "raw" / "checksums.tsv")  # parallel downloads: every entry kept
    listing = {
        f"WMH/api/access/datafile/{f['dataFile']['id']}": f"{f['directoryLabel']}/{f['label']}"
        for f in json.loads((served / "WMH" / "api" / "files.json").read_text())["data"]
    }
    expected = {
        name: sha256sum(served / name)
        for name in requests
        if "/api/" not in name and name != "SRI24/nested/sri24_spm8.zip"
    }
    expected.update({_local_wmh(listing[name]): sha256sum(served / name) for name in wmh})
    assert db == expected
    for name in expected:
        source = next((n for n in wmh if _local_wmh(listing[n]) == name), name)
        assert (out / "raw" / name).read_bytes() == (served / source).read_bytes()
    # The summary's own checks: every method of config/config.yaml in Table 1 (the DAE too), both
    # SRI24 layouts (templates/ at the top, and under sri24_spm8/) giving the same atlas.
    assert summary["ok"] and all(summary["checks"].values()), summary["checks"]
    assert summary["methods"]["complete"] == ["Patch2Loc", "DAE", "Thresh", "DDPM", "pDDPM", "cDDPM", "AE", "VAE"]
    assert summary["sri24"]["same_atlas"] and summary["sri24"]["second_returncode"] == 0
    assert (out / "skullstrip" / "robex" / "ATLAS_v2" / "T1").is_dir()
    # The one IXI test subject (IXI105-HH-1128) cannot both fit the cross-fitted bias threshold and be
    # evaluated by it (evaluation/comparisons/bias.py): no group cell, only each factor's (empty) permutation row.
    bias = pd.read_csv(out / "tables" / "bias.csv", keep_default_na=False)
    assert bias.loc[bias["grouping"] == "site", "group"].tolist() == ["permutation p"]
    assert bias.loc[bias["grouping"] == "sex", "group"].tolist() == ["permutation p"]
    table = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this harness"]
    for dataset in LESION_DATASETS:
        assert all(0.0 <= float(c.split(" ")[0]) <= 100.0 for c in ours[f"{dataset} AUPRC"])
    # Flagged: the deliberately misregistered WMH scan and IXI014-HH-1236's 4.98 mm T2, nothing else.
    assert summary["qc_flagged"] is not None
    flagged = sorted((r["dataset"], r["subject"], r["reason"]) for r in summary["qc_flagged"])
    assert flagged[0] == ("IXI", "IXI014-HH-1236", "native_spacing"), summary["qc_flagged"]
    assert [f[:2] for f in flagged[1:]] == [("WMH", summary["subjects"]["WMH"][-1])], summary["qc_flagged"]
    # MSLUB's provided brain mask, half a voxel off, was moved onto the image grid and recorded.
    mslub = pd.read_csv(out / "qc" / "MSLUB_T2.csv")
    assert mslub["grid_resampled"].str.startswith("brainmask.nii.gz offset").all(), mslub["grid_resampled"]
    # The test/ subject of the split (a space in its folder name) arrived; the other test subject did not.
    assert (out / "raw" / "WMH" / "Philips_VU_PETMR_01" / "160" / "pre" / "T1.nii.gz").exists()
    assert not (out / "raw" / "WMH" / "GE1T5").exists()
