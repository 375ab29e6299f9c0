"""The offline rehearsal, small: fixtures served on 127.0.0.1 -> real download/extract/ROBEX/
registration/N4/Nyul/training/scoring rules -> Table 1; and each dataset's layout read back."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, list_subjects, raw_paths
from patch2loc.data.download import extract, read_checksums, sha256sum
from patch2loc.rehearsal.fixtures import Plan, build_all

REPO = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "rules", "workflow", "config", "envs", "splits", "src", "profiles"]
SMALL = Plan(ixi_train=3, ixi_val=1, ixi_test=1,
             lesion_subjects={"BraTS21": 1, "MSLUB": 1, "ATLAS_v2": 1, "WMH": 3},
             render_spacing=4.0, voxel_scale=3.0)


def _small_config(workdir: Path) -> str:
    cfg = yaml.safe_load((REPO / "config" / "rehearsal.yaml").read_text())
    cfg.update(run_name="rehearsal_ci", raw_root="results/rehearsal_ci/raw",
               splits_dir="results/rehearsal_ci/fixtures/splits")
    cfg["atlas"] = {"image": "results/rehearsal_ci/raw/SRI24/T1_brain.nii.gz",
                    "mask": "results/rehearsal_ci/raw/SRI24/brain_mask.nii.gz"}
    # ROBEX (about 1.5 min per scan on a CPU) on the single ATLAS scan; the others use masks.
    cfg["datasets"].update(IXI={"skull_strip": "provided"}, ATLAS_v2={"skull_strip": "robex"})
    cfg["preprocess"].update(spacing=[6.0, 6.0, 6.0], target_shape=[32, 32, 20], n4_iterations=[10])
    cfg["train"].update(steps=20, patches_per_step=64, val_every=10, val_batches=1)
    cfg["heatmap"].update(batch_size=2048)
    (workdir / "config" / "rehearsal_ci.yaml").write_text(yaml.safe_dump(cfg))
    return "config/rehearsal_ci.yaml"


@pytest.mark.slow
def test_each_dataset_layout_is_read_from_its_fixture(tmp_path):
    plan = Plan(**{**SMALL.__dict__, "user_masks": ("IXI", "WMH"), "render_spacing": 6.0})
    subjects = build_all(tmp_path / "fx", tmp_path / "raw", plan)
    served, raw = tmp_path / "fx" / "served", tmp_path / "raw"
    # Unpack the served archives the way the extract / arrange rules do.
    for modality in ("T1", "T2"):
        extract(served / "IXI" / f"IXI-{modality}.tar", raw / "IXI" / f"IXI-{modality}")
    shutil.copytree(served / "MSLUB", raw / "MSLUB")
    extract(served / "WMH" / "dataverse_files.zip", raw / "WMH" / "_archive")
    for seg in list((raw / "WMH" / "_archive").rglob("wmh.nii.gz")):
        (raw / "WMH" / seg.parent.parent.name).mkdir(parents=True, exist_ok=True)
        seg.parent.rename(raw / "WMH" / seg.parent.parent.name / seg.parent.name)
    for dataset in ("IXI", *LESION_DATASETS):
        for modality in (("T1", "T2") if dataset == "IXI" else MODALITIES[dataset]):
            assert list_subjects(dataset, raw, modality) == sorted(subjects[dataset]), (dataset, modality)
            for s in subjects[dataset]:
                scan = raw_paths(dataset, raw, s, modality)
                assert scan.image.exists() and (scan.seg is None or scan.seg.exists())
    assert not (raw / "MSLUB" / "raw" / "patient01" / "consensus_gt.nii.gz").exists()  # GT: FLAIR grid only


@pytest.mark.slow
def test_small_rehearsal_reaches_table1(tmp_path):
    from patch2loc.rehearsal.run import rehearse

    for name in COPIED:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    configfile = _small_config(tmp_path)
    summary = rehearse(configfile, plan=SMALL, cores=2, workdir=tmp_path, lifetime=1200,
                       targets=["table1", "results/rehearsal_ci/qc/WMH_T1.csv",
                                "results/rehearsal_ci/qc/IXI_T1.csv"])
    log = (tmp_path / "results" / "rehearsal_ci" / "rehearsal_snakemake.log").read_text()
    assert summary["returncode"] == 0, log[-5000:]
    # The interrupted and the corrupted transfer were each fetched twice, and only those.
    assert summary["requests"]["IXI/IXI-T2.tar"] == 2 and summary["requests"]["SRI24/sri24_spm8.zip"] == 2
    assert summary["requests"]["IXI/IXI-T1.tar"] == 1
    assert log.count("Error in rule download") == 2  # each fault failed one attempt, the retry passed
    out = tmp_path / "results" / "rehearsal_ci"
    served = out / "fixtures" / "served"
    db = read_checksums(out / "raw" / "checksums.tsv")  # parallel downloads: every entry kept
    assert db == {name: sha256sum(served / name) for name in summary["requests"]}
    for name in summary["requests"]:
        assert (out / "raw" / name).read_bytes() == (served / name).read_bytes(), name
    assert (out / "skullstrip" / "robex" / "ATLAS_v2" / "T1").is_dir()
    table = pd.read_csv(out / "tables" / "table1.csv", dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this harness"]
    for dataset in LESION_DATASETS:
        assert all(0.0 <= float(c.split("±")[0]) <= 100.0 for c in ours[f"{dataset} AUPRC"])
    # The deliberately misregistered WMH scan is flagged, and nothing else is.
    assert summary["qc_flagged"] is not None
    flagged = [(r["dataset"], r["subject"]) for r in summary["qc_flagged"]]
    assert flagged == [("WMH", summary["subjects"]["WMH"][-1])], summary["qc_flagged"]
