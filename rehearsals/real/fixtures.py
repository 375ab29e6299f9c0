"""Raw-data fixtures written exactly as each dataset's download unpacks (or is dropped in).

Brains come from the synthesiser (patch2loc.synth: whole heads with skull and scalp, lesions,
bias, noise); what is faithful here is the *packaging*: file and folder names, archives, and the
geometry of real files (voxel sizes, axial/sagittal axis orders, RAS and LPS, int16 with scaling
slopes, skull-stripped only where the real data is). MSLUB and WMH carry their real headers
(rehearsals.real.mslub, .wmh_dataverse): full-size matrices, MSLUB's brain masks half a voxel off
the ground truth's grid, WMH's 3 mm slices; the other datasets' voxel sizes are the real ones times
`Plan.voxel_scale` (reduced size), capped at 3 mm.

    served/   what the loopback server offers at the URLs of the sources file:
              IXI/IXI-T1.tar, IXI/IXI-T2.tar (flat IXI###-Site-####-T1.nii.gz members),
              IXI/IXI.xls (demographics, rehearsals.real.demographics),
              MSLUB/{raw,coregistered}/patientXX/... (the mirror's layout, per file),
              WMH/api/files.json (the dataset's file listing, SHA-1 per file) and
              WMH/api/access/datafile/<id> (per-file access),
              SRI24/sri24_spm8.zip (templates/ at the top level) and SRI24/nested/sri24_spm8.zip
              (sri24_spm8/templates/): T1_brain.nii beside decoys named T1.nii and T2_brain.nii
    raw_root/ BraTS21/BraTS2021_XXXXX/*_{t2,seg}.nii.gz and ATLAS_v2/ATLAS_2/Training/... (BIDS
              derivative names): the two datasets a user drops in by hand; MSLUB/patientXX/ too
              with Plan.mslub_layout "official" (the official archive, dropped in); brain masks a
              user adds to WMH (WMH/<site>/<id>/pre/brainmask.nii.gz)
    splits/   subject lists of the rehearsal (IXI folds, one csv per lesion set)
"""

from __future__ import annotations

import csv
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from patch2loc.data.download import GIT_BLOB, sha256sum
from patch2loc.data.layouts import MASK_NAMES, raw_paths
from rehearsals.real.demographics import build_ixi_demographics
from rehearsals.real.geometry import make_grid, resample, save
from rehearsals.real.mslub import build_mslub
from rehearsals.real.scans import Plan, centre, render, vox, write
from rehearsals.real.wmh_dataverse import build_wmh, challenge_test_ids, wmh_ids
from patch2loc.synth import load_template

__all__ = ["Plan", "build_all", "sources"]
IXI_SITES = ("Guys", "HH", "IOP")
ODD_IXI = ("IXI014-HH-1236", (0.8984, 0.8984, 4.9765))  # its T2 in the real IXI-T2.tar (QC flags it)


def ixi_ids(plan: Plan) -> list[str]:
    """The IXI ids of the train, val and test subjects, in that order. The first val subject is
    IXI014-HH-1236, where splits/IXI.csv puts it in fold 0 (validation; training in folds 1-4)."""
    n_tr, n_va = plan.ixi_train, plan.ixi_val
    ids = [f"IXI{101 + i:03d}-{IXI_SITES[i % 3]}-{1100 + 7 * i:04d}" for i in range(n_tr + n_va + plan.ixi_test)]
    return ids[:n_tr] + [ODD_IXI[0]] + ids[n_tr + 1 :] if n_va else ids


def build_ixi(served: Path, subjects: list[str], plan: Plan) -> None:
    grids = {
        "T1": ("PSR", (0.94, 0.94, 1.2), (240, 240, 190)),  # sagittal, like IXI T1
        "T2": ("LPS", (0.94, 0.94, 1.2), (240, 240, 190)),
    }  # axial, slightly oblique
    for modality, (codes, real, fov) in grids.items():
        with tempfile.TemporaryDirectory() as tmp:
            names = []
            for s in subjects:
                r = render("IXI", modality, s, plan.seed, plan.render_spacing)
                odd = modality == "T2" and s == ODD_IXI[0]  # 4.98 mm slices: scaled, never capped
                spacing = vox(ODD_IXI[1], plan, "IXI", cap=None) if odd else vox(real, plan, "IXI")
                grid = make_grid(codes, spacing, fov, centre(r), 5.0 if modality == "T2" else 0.0)
                scan = raw_paths("IXI", tmp, s, modality)
                mask = scan.mask if "IXI" in plan.user_masks else None
                write(r, grid, scan.image, mask=mask)
                names += [p for p in (scan.image, mask) if p is not None]
            tar = served / "IXI" / f"IXI-{modality}.tar"
            tar.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tar, "w") as tf:  # flat members, as the IXI tarballs
                for p in sorted(names):
                    tf.add(p, arcname=p.name)


def build_brats(raw_root: Path, subjects: list[str], plan: Plan) -> None:
    for s in subjects:
        r = render("BraTS21", "T2", s, plan.seed, plan.render_spacing)  # skull-stripped, labels 1/2/4
        grid = make_grid("LPS", vox((1.0, 1.0, 1.0), plan, "BraTS21"), (240, 240, 155), centre(r))
        scan = raw_paths("BraTS21", raw_root, s, "T2")
        write(r, grid, scan.image, seg=scan.seg)


def build_atlas_v2(raw_root: Path, subjects: list[str], plan: Plan) -> None:
    for s in subjects:
        r = render("ATLAS_v2", "T1", s, plan.seed, plan.render_spacing)
        grid = make_grid("RAS", vox((1.0, 1.0, 1.0), plan, "ATLAS_v2"), (197, 233, 189), centre(r))  # MNI2009a box
        scan = raw_paths("ATLAS_v2", raw_root, s, "T1")
        write(r, grid, scan.image, seg=scan.seg, mask=scan.mask if "ATLAS_v2" in plan.user_masks else None)


SRI24_LAYOUTS = {"SRI24/sri24_spm8.zip": "templates", "SRI24/nested/sri24_spm8.zip": "sri24_spm8/templates"}


def build_sri24(served: Path, plan: Plan) -> None:
    """The SPM8 package of SRI24 in both layouts (SRI24_LAYOUTS): templates/T1_brain.nii (here the
    MNI152 brain, LPS, 1 mm x scale) and two decoys a search by name must not take, T1.nii (a
    head: no zero background) and T2_brain.nii (inverted contrast)."""
    tpl = load_template(plan.render_spacing)
    middle = (tpl.affine @ np.append((np.asarray(tpl.t1.shape) - 1) / 2.0, 1.0))[:3]
    grid = make_grid("LPS", vox((1.0, 1.0, 1.0), plan, "SRI24"), (240, 240, 155), middle)
    brain = resample(tpl.t1 * 1000.0, tpl.affine, grid, 1)
    templates = {
        "T1_brain.nii": brain,
        "T1.nii": brain + 100.0,
        "T2_brain.nii": np.where(brain > 0, brain.max() + 1.0 - brain, 0.0),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in templates.items():
            save(data, grid.affine, Path(tmp) / name)
        for served_name, folder in SRI24_LAYOUTS.items():
            archive = served / served_name
            archive.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(templates):
                    zf.write(Path(tmp) / name, f"{folder}/{name}")


def _csv(path: Path, header: list[str], rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def write_splits(splits: Path, ixi: list[str], lesion: dict[str, list[str]], plan: Plan) -> None:
    """Fold 0 only: train / val / test as in the reference lists' columns."""
    n_tr, n_va = plan.ixi_train, plan.ixi_val
    rows = [(s, "train", 0, True) for s in ixi[:n_tr]] + [(s, "val", 0, True) for s in ixi[n_tr : n_tr + n_va]]
    rows += [(s, "test", "", True) for s in ixi[n_tr + n_va :]]
    _csv(splits / "IXI.csv", ["subject_id", "split", "fold", "has_t2"], rows)
    for dataset, subjects in lesion.items():
        _csv(splits / f"{dataset}.csv", ["subject_id", "split"], [(s, "test") for s in subjects])


def build_all(out: Path, raw_root: Path, plan: Plan = Plan()) -> dict:
    """Write served/, the manual datasets under raw_root and splits/; return the subject lists."""
    served = out / "served"
    if served.exists():
        shutil.rmtree(served)
    ixi = ixi_ids(plan)
    n = plan.lesion_subjects
    wmh_training, wmh_test = wmh_ids(n["WMH"]), challenge_test_ids(plan.wmh_test)
    lesion = {
        "BraTS21": [f"BraTS2021_{i:05d}" for i in range(n["BraTS21"])],
        "MSLUB": [f"patient{i + 1:02d}" for i in range(n["MSLUB"])],
        "ATLAS_v2": [f"sub-r{1 + i:03d}s{1 + i:03d}" for i in range(n["ATLAS_v2"])],
        # test/ subjects first: the deliberately bad training subject stays the last
        "WMH": wmh_test[: plan.wmh_test_in_splits] + wmh_training,
    }
    build_ixi(served, ixi, plan)
    build_ixi_demographics(served, ixi, plan.seed)
    build_brats(raw_root, lesion["BraTS21"], plan)
    build_mslub(served, raw_root, lesion["MSLUB"], plan)
    build_atlas_v2(raw_root, lesion["ATLAS_v2"], plan)
    wmh_files = build_wmh(served, raw_root, wmh_training, wmh_test, lesion["WMH"], plan)
    build_sri24(served, plan)
    write_splits(out / "splits", ixi, lesion, plan)
    return {"IXI": ixi, **lesion, "mask_names": {d: MASK_NAMES[d] for d in plan.user_masks}, "wmh_fetched": wmh_files}


def sources(served: Path, base_url: str, sri24: str = "SRI24/sri24_spm8.zip") -> dict:
    """A sources file (config/datasets.yaml format) for the served fixtures, archives pinned by
    sha256 and MSLUB's per-patient files by git blob id, as config/datasets.yaml pins the mirror's;
    `sri24`: which served SRI24 archive (SRI24_LAYOUTS) is downloaded as SRI24/sri24_spm8.zip."""

    def entry(dest, extract_to=None):
        f = {"url": f"{base_url}/{dest}", "dest": dest, "sha256": sha256sum(served / dest)}
        return {**f, "extract_to": extract_to} if extract_to else f

    mirror = served / "MSLUB" / "coregistered"
    return {
        "IXI": {
            "files": [
                entry("IXI/IXI-T1.tar", "IXI/IXI-T1"),
                entry("IXI/IXI-T2.tar", "IXI/IXI-T2"),
                entry("IXI/IXI.xls"),
            ]
        },
        "MSLUB": {
            "file_template": [
                {
                    "url": f"{base_url}/MSLUB/coregistered/{{subject}}/{name}",
                    "dest": f"MSLUB/coregistered/{{subject}}/{name}",
                    "sha256": None,
                    "gitblob": {p.parent.name: sha256sum(p, GIT_BLOB) for p in sorted(mirror.glob(f"*/{name}"))},
                }
                for name in ("T2W.nii.gz", "consensus_gt.nii.gz", "brainmask.nii.gz")
            ]
        },
        "WMH": {"listing": f"{base_url}/WMH/api/files.json", "access": f"{base_url}/WMH/api/access/datafile/{{id}}"},
        "SRI24": {"files": [{**entry(sri24, "SRI24"), "dest": "SRI24/sri24_spm8.zip"}]},
        "HD-BET": {"url": f"{base_url}/HD-BET/weights.zip", "sha256": None},
    }
