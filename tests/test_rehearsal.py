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

from patch2loc.data.dataverse import complete_bundle, read_manifest
from patch2loc.data.download import extract, read_checksums, sha256sum
from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, list_subjects, raw_paths
from patch2loc.data.wmh import arrange
from patch2loc.io import InputError
from patch2loc.rehearsal.fixtures import Plan, build_all
from patch2loc.rehearsal.server import FileServer

REPO = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "rules", "workflow", "config", "envs", "splits", "src", "profiles"]
SMALL = Plan(ixi_train=3, ixi_val=1, ixi_test=1,
             lesion_subjects={"BraTS21": 1, "MSLUB": 1, "ATLAS_v2": 1, "WMH": 3},
             render_spacing=4.0, voxel_scale=3.0, real_voxels=("WMH",), wmh_test=1)


def _small_config(workdir: Path) -> str:
    cfg = yaml.safe_load((REPO / "config" / "rehearsal.yaml").read_text())
    cfg.update(run_name="rehearsal_ci", raw_root="results/rehearsal_ci/raw",
               splits_dir="results/rehearsal_ci/fixtures/splits")
    cfg["atlas"] = {"image": "results/rehearsal_ci/raw/SRI24/T1_brain.nii.gz",
                    "mask": "results/rehearsal_ci/raw/SRI24/brain_mask.nii.gz"}
    # ROBEX (about 1.5 min per scan on a CPU) on the single ATLAS scan; the others use masks.
    cfg["datasets"].update(IXI={"skull_strip": "provided"}, ATLAS_v2={"skull_strip": "robex"})
    cfg["preprocess"].update(spacing=[6.0, 6.0, 6.0], target_shape=[32, 32, 20], n4_iterations=[10])
    cfg["patch2loc"].update(steps=20, patches_per_step=64, val_every=10, val_batches=1)
    cfg["heatmap"].update(batch_size=2048)
    (workdir / "config" / "rehearsal_ci.yaml").write_text(yaml.safe_dump(cfg))
    return "config/rehearsal_ci.yaml"


@pytest.mark.slow
def test_each_dataset_layout_is_read_from_its_fixture(tmp_path):
    plan = Plan(**{**SMALL.__dict__, "user_masks": ("IXI", "WMH"), "render_spacing": 6.0,
                   "mslub_layout": "official"})
    subjects = build_all(tmp_path / "fx", tmp_path / "raw", plan)
    served, raw = tmp_path / "fx" / "served", tmp_path / "raw"
    # Unpack the served archives the way the extract / arrange rules do.
    for modality in ("T1", "T2"):
        extract(served / "IXI" / f"IXI-{modality}.tar", raw / "IXI" / f"IXI-{modality}")
    extract(served / "WMH" / "dataverse_files.zip", raw / "WMH" / "_archive")
    bundle = raw / "WMH" / "_archive"
    assert (bundle / "readme.pdf").exists() and (bundle / "additional_annotations").is_dir()
    assert len(read_manifest(bundle / "MANIFEST.TXT").left_out) == 2
    with pytest.raises(InputError, match="missing.*nothing was arranged"):  # the cut-off bundle
        arrange(bundle, raw / "WMH")
    with FileServer(served) as server:
        fetched = complete_bundle(bundle, needed=("training",), checksum_db=raw / "checksums.tsv",
                                  listing=server.url("WMH/api/files.json"),
                                  access=server.url("WMH/api/access/datafile/{id}"))
    assert len(fetched) == 2
    assert arrange(bundle, raw / "WMH") == 3  # training/ only: test/ and additional_annotations/ stay
    for dataset in ("IXI", *LESION_DATASETS):
        for modality in (("T1", "T2") if dataset == "IXI" else MODALITIES[dataset]):
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
def test_small_rehearsal_reaches_table1(tmp_path):
    from patch2loc.rehearsal.run import rehearse

    for name in COPIED:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    configfile = _small_config(tmp_path)
    summary = rehearse(configfile, plan=SMALL, cores=2, workdir=tmp_path, lifetime=1200,
                       targets=["table1", "bias", "results/rehearsal_ci/qc/WMH_T1.csv",
                                "results/rehearsal_ci/qc/IXI_T1.csv", "results/rehearsal_ci/qc/IXI_T2.csv",
                                "results/rehearsal_ci/qc/MSLUB_T2.csv"])
    log = (tmp_path / "results" / "rehearsal_ci" / "rehearsal_snakemake.log").read_text()
    assert summary["returncode"] == 0, log[-5000:]
    # The interrupted and the corrupted transfers were each fetched twice, and only those.
    requests, left_out = summary["requests"], summary["subjects"]["wmh_left_out"]
    assert requests["IXI/IXI-T2.tar"] == 2 and requests["SRI24/sri24_spm8.zip"] == 2
    assert requests["IXI/IXI-T1.tar"] == 1 and requests["WMH/dataverse_files.zip"] == 1
    assert requests["IXI/IXI.xls"] == 1  # the demographics, in Excel 97-2003 format as IXI serves it
    assert [requests[name] for name in left_out] == [2, 1]  # the WMH bundle's left-out files, per file
    assert log.count("Error in rule download") == 2  # each fault failed one attempt, the retry passed
    assert log.count("Error in rule arrange_wmh") == 1
    out = tmp_path / "results" / "rehearsal_ci"
    served = out / "fixtures" / "served"
    db = read_checksums(out / "raw" / "checksums.tsv")  # parallel downloads: every entry kept
    listing = {f"datafile/{f['dataFile']['id']}": f"{f['directoryLabel']}/{f['label']}"
               for f in json.loads((served / "WMH" / "api" / "files.json").read_text())["data"]}
    expected = {name: sha256sum(served / name) for name in requests if "/api/" not in name}
    expected.update({f"WMH/_archive/{listing[name.split('access/')[1]]}": sha256sum(served / name) for name in left_out})
    assert db == expected
    for name in expected:
        assert name.startswith("WMH/_archive/") or (out / "raw" / name).read_bytes() == (served / name).read_bytes()
    assert (out / "skullstrip" / "robex" / "ATLAS_v2" / "T1").is_dir()
    bias = pd.read_csv(out / "tables" / "bias.csv", keep_default_na=False)  # the test subject: IXI014-HH-1236
    assert bias.loc[bias["grouping"] == "site", "group"].tolist() == ["HH"]
    assert bias.loc[bias["grouping"] == "sex", "group"].isin(["F", "M"]).all()
    table = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this harness"]
    for dataset in LESION_DATASETS:
        assert all(0.0 <= float(c.split("±")[0]) <= 100.0 for c in ours[f"{dataset} AUPRC"])
    # Flagged: the deliberately misregistered WMH scan and IXI014-HH-1236's 4.98 mm T2, nothing else.
    assert summary["qc_flagged"] is not None
    flagged = sorted((r["dataset"], r["subject"], r["reason"]) for r in summary["qc_flagged"])
    assert flagged[0] == ("IXI", "IXI014-HH-1236", "native_spacing"), summary["qc_flagged"]
    assert [f[:2] for f in flagged[1:]] == [("WMH", summary["subjects"]["WMH"][-1])], summary["qc_flagged"]
    # MSLUB's provided brain mask, half a voxel off, was moved onto the image grid and recorded.
    mslub = pd.read_csv(out / "qc" / "MSLUB_T2.csv")
    assert mslub["grid_resampled"].str.startswith("brainmask.nii.gz offset").all(), mslub["grid_resampled"]
    assert not (out / "raw" / "WMH" / "GE1T5").exists()  # test/ not arranged (datasets.WMH.test_set false)
