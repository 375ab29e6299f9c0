"""Raw-data fixtures written exactly as each dataset's download unpacks (or is dropped in).

Brains come from the synthesiser (patch2loc.synth: whole heads with skull and scalp, lesions,
bias, noise); what is faithful here is the *packaging*: file and folder names, archives, and the
geometry of real files (voxel sizes of each dataset, axial/sagittal axis orders, RAS and LPS,
oblique tilts, int16 with scaling slopes, skull-stripped only where the real data is). Voxel
sizes are the real ones times `Plan.voxel_scale` (reduced size), capped at 3 mm.

    served/   what the loopback server offers at the URLs of the sources file:
              IXI/IXI-T1.tar, IXI/IXI-T2.tar (flat IXI###-Site-####-T1.nii.gz members),
              MSLUB/{raw,coregistered}/patientXX/... (open_ms_data layout, per-file),
              WMH/dataverse_files.zip (training/<site>[/<scanner>]/<id>/{wmh,orig/*,pre/*}),
              SRI24/sri24_spm8.zip (sri24_spm8/templates/T1_brain.nii)
    raw_root/ BraTS21/BraTS2021_XXXXX/*_{t2,seg}.nii.gz and ATLAS_v2/ATLAS_2/Training/... (BIDS
              derivative names): the two datasets a user drops in by hand
    splits/   subject lists of the rehearsal (IXI folds, one csv per lesion set)
"""
from __future__ import annotations

import csv
import hashlib
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from patch2loc.data.layouts import MASK_NAMES, raw_paths
from patch2loc.rehearsal.geometry import Grid, make_grid, resample, rotation_x, save
from patch2loc.synth import load_template, render_scan, subject_seed

IXI_SITES = ("Guys", "HH", "IOP")
# WMH challenge sites: archive path, FLAIR voxel size (mm), axis order, tilt (degrees)
WMH_SITES = {"Utrecht": ("Utrecht", (0.96, 0.95, 3.0), "LPS", 0.0),
             "Singapore": ("Singapore", (1.0, 1.0, 3.0), "RAS", 8.0),
             "GE3T": ("Amsterdam/GE3T", (0.98, 1.2, 0.98), "RSA", 0.0)}


@dataclass
class Plan:
    """How many subjects of each dataset, at which size; which fixture is deliberately bad."""

    ixi_train: int = 3
    ixi_val: int = 1
    ixi_test: int = 1
    lesion_subjects: dict = field(default_factory=lambda: {"BraTS21": 2, "MSLUB": 2, "ATLAS_v2": 2, "WMH": 3})
    render_spacing: float = 2.0  # mm, the synthesiser's grid
    voxel_scale: float = 2.0  # real voxel sizes times this (capped at 3 mm)
    seed: int = 11
    bad_wmh: bool = True  # the last WMH subject's headers tilted 90 degrees: a misregistered scan
    user_masks: tuple[str, ...] = ()  # datasets given brain masks a user would add (MASK_NAMES)


def _vox(real, plan: Plan) -> tuple[float, ...]:
    return tuple(min(3.0, v * plan.voxel_scale) for v in real)


@lru_cache(maxsize=64)
def _render(dataset: str, modality: str, subject: str, seed: int, spacing: float):
    return render_scan(dataset, modality, subject_seed(seed, dataset, subject), spacing)


def _centre(r) -> np.ndarray:
    """World centre of the rendered head (its native field of view)."""
    return (r.affine @ np.append((np.asarray(r.image.shape) - 1) / 2.0, 1.0))[:3]


def _write(r, grid: Grid, image: Path, *, seg: Path | None = None, mask: Path | None = None,
           affine: np.ndarray | None = None) -> None:
    """Sample a rendered subject on `grid`; write image (+ lesion labels, + brain mask)."""
    affine = grid.affine if affine is None else affine  # a wrong header (the bad fixture)
    save(resample(r.image, r.affine, grid, 1), affine, image)
    if seg is not None:
        labels = r.seg if r.seg is not None else np.zeros(r.image.shape, np.uint8)
        save(resample(labels, r.affine, grid, 0), affine, seg, kind="labels")
    if mask is not None:
        save(resample(r.brain.astype(np.uint8), r.affine, grid, 0), affine, mask, kind="labels")


def _tilted(grid: Grid, degrees: float = 90.0) -> np.ndarray:
    """The grid's affine rotated about its centre: what a wrong orientation header looks like."""
    centre = grid.affine @ np.append((np.asarray(grid.shape) - 1) / 2.0, 1.0)
    rot = np.eye(4)
    rot[:3, :3] = rotation_x(degrees)
    rot[:3, 3] = centre[:3] - rot[:3, :3] @ centre[:3]
    return rot @ grid.affine


def ixi_ids(n: int) -> list[str]:
    return [f"IXI{101 + i:03d}-{IXI_SITES[i % 3]}-{1100 + 7 * i:04d}" for i in range(n)]


def build_ixi(served: Path, subjects: list[str], plan: Plan) -> None:
    grids = {"T1": ("PSR", (0.94, 0.94, 1.2), (240, 240, 190), 0.0),  # sagittal, like IXI T1
             "T2": ("LPS", (0.94, 0.94, 1.2), (240, 240, 190), 5.0)}  # axial, slightly oblique
    for modality, (codes, vox, fov, tilt) in grids.items():
        with tempfile.TemporaryDirectory() as tmp:
            names = []
            for s in subjects:
                r = _render("IXI", modality, s, plan.seed, plan.render_spacing)
                grid = make_grid(codes, _vox(vox, plan), fov, _centre(r), tilt)
                scan = raw_paths("IXI", tmp, s, modality)
                mask = scan.mask if "IXI" in plan.user_masks else None
                _write(r, grid, scan.image, mask=mask)
                names += [p for p in (scan.image, mask) if p is not None]
            tar = served / "IXI" / f"IXI-{modality}.tar"
            tar.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tar, "w") as tf:  # flat members, as the IXI tarballs
                for p in sorted(names):
                    tf.add(p, arcname=p.name)


def build_brats(raw_root: Path, subjects: list[str], plan: Plan) -> None:
    for s in subjects:
        r = _render("BraTS21", "T2", s, plan.seed, plan.render_spacing)  # skull-stripped, labels 1/2/4
        grid = make_grid("LPS", _vox((1.0, 1.0, 1.0), plan), (240, 240, 155), _centre(r))
        scan = raw_paths("BraTS21", raw_root, s, "T2")
        _write(r, grid, scan.image, seg=scan.seg)


def build_mslub(served: Path, subjects: list[str], plan: Plan) -> None:
    for s in subjects:
        r = _render("MSLUB", "T2", s, plan.seed, plan.render_spacing)
        c = _centre(r)
        raw = make_grid("RAS", _vox((0.47, 0.47, 3.0), plan), (230, 230, 160), c)  # original T2 grid
        flair = make_grid("PSR", _vox((0.47, 0.47, 0.8), plan), (220, 230, 180), c, 6.0)  # 3D FLAIR
        _write(r, raw, served / "MSLUB" / "raw" / s / "T2W.nii.gz")
        scan = raw_paths("MSLUB", served, s, "T2")  # coregistered/: FLAIR grid, mask + ground truth
        _write(r, flair, scan.image, seg=scan.seg, mask=scan.mask)


def build_atlas_v2(raw_root: Path, subjects: list[str], plan: Plan) -> None:
    for s in subjects:
        r = _render("ATLAS_v2", "T1", s, plan.seed, plan.render_spacing)
        grid = make_grid("RAS", _vox((1.0, 1.0, 1.0), plan), (197, 233, 189), _centre(r))  # MNI2009a box
        scan = raw_paths("ATLAS_v2", raw_root, s, "T1")
        _write(r, grid, scan.image, seg=scan.seg, mask=scan.mask if "ATLAS_v2" in plan.user_masks else None)


def wmh_ids(n: int) -> list[str]:
    ids = {"Utrecht": 0, "Singapore": 50, "GE3T": 100}
    sites = list(WMH_SITES)
    return [f"{sites[i % 3]}_{ids[sites[i % 3]] + i // 3}" for i in range(n)]


def build_wmh(served: Path, subjects: list[str], plan: Plan) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "training"
        for s in subjects:
            site, sid = s.rsplit("_", 1)
            folder, vox, codes, tilt = WMH_SITES[site]
            d = root / folder / sid
            t1 = _render("WMH", "T1", s, plan.seed, plan.render_spacing)
            flair = _render("WMH", "T2", s, plan.seed, plan.render_spacing)  # FLAIR stand-in
            grid = make_grid(codes, _vox(vox, plan), (230, 230, 170), _centre(t1), tilt)
            bad = _tilted(grid) if plan.bad_wmh and s == subjects[-1] else None
            mask = d / "pre" / "brainmask.nii.gz" if "WMH" in plan.user_masks else None
            _write(t1, grid, d / "pre" / "T1.nii.gz", seg=d / "wmh.nii.gz", mask=mask, affine=bad)
            _write(flair, grid, d / "pre" / "FLAIR.nii.gz", affine=bad)
            native = make_grid("PSR", _vox((1.0, 1.0, 1.0), plan), (230, 240, 190), _centre(t1))
            _write(t1, native, d / "orig" / "3DT1.nii.gz")  # the unregistered 3D T1
            _write(flair, grid, d / "orig" / "FLAIR.nii.gz")
        archive = served / "WMH" / "dataverse_files.zip"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
            for p in sorted(root.rglob("*.nii.gz")):
                zf.write(p, p.relative_to(Path(tmp)).as_posix())


def build_sri24(served: Path, plan: Plan) -> None:
    """The SPM8 package of SRI24 with templates/T1_brain.nii (here: the MNI152 brain, LPS, 1 mm)."""
    tpl = load_template(plan.render_spacing)
    centre = (tpl.affine @ np.append((np.asarray(tpl.t1.shape) - 1) / 2.0, 1.0))[:3]
    grid = make_grid("LPS", _vox((1.0, 1.0, 1.0), plan), (240, 240, 155), centre)
    with tempfile.TemporaryDirectory() as tmp:
        t1 = Path(tmp) / "T1_brain.nii"
        save(resample(tpl.t1 * 1000.0, tpl.affine, grid, 1), grid.affine, t1)
        archive = served / "SRI24" / "sri24_spm8.zip"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(t1, "sri24_spm8/templates/T1_brain.nii")


def _csv(path: Path, header: list[str], rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def write_splits(splits: Path, ixi: list[str], lesion: dict[str, list[str]], plan: Plan) -> None:
    """Fold 0 only: train / val / test as in the reference lists' columns."""
    n_tr, n_va = plan.ixi_train, plan.ixi_val
    rows = [(s, "train", 0, True) for s in ixi[:n_tr]] + [(s, "val", 0, True) for s in ixi[n_tr:n_tr + n_va]]
    rows += [(s, "test", "", True) for s in ixi[n_tr + n_va:]]
    _csv(splits / "IXI.csv", ["subject_id", "split", "fold", "has_t2"], rows)
    for dataset, subjects in lesion.items():
        _csv(splits / f"{dataset}.csv", ["subject_id", "split"], [(s, "test") for s in subjects])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_all(out: Path, raw_root: Path, plan: Plan = Plan()) -> dict:
    """Write served/, the manual datasets under raw_root and splits/; return the subject lists."""
    served = out / "served"
    if served.exists():
        shutil.rmtree(served)
    ixi = ixi_ids(plan.ixi_train + plan.ixi_val + plan.ixi_test)
    n = plan.lesion_subjects
    lesion = {"BraTS21": [f"BraTS2021_{i:05d}" for i in range(n["BraTS21"])],
              "MSLUB": [f"patient{i + 1:02d}" for i in range(n["MSLUB"])],
              "ATLAS_v2": [f"sub-r{1 + i:03d}s{1 + i:03d}" for i in range(n["ATLAS_v2"])],
              "WMH": wmh_ids(n["WMH"])}
    build_ixi(served, ixi, plan)
    build_brats(raw_root, lesion["BraTS21"], plan)
    build_mslub(served, lesion["MSLUB"], plan)
    build_atlas_v2(raw_root, lesion["ATLAS_v2"], plan)
    build_wmh(served, lesion["WMH"], plan)
    build_sri24(served, plan)
    write_splits(out / "splits", ixi, lesion, plan)
    return {"IXI": ixi, **lesion, "mask_names": {d: MASK_NAMES[d] for d in plan.user_masks}}


def sources(served: Path, base_url: str, lesion: dict[str, list[str]]) -> dict:
    """A sources file (config/datasets.yaml format) for the served fixtures, archives pinned."""
    def entry(dest, extract_to=None):
        f = {"url": f"{base_url}/{dest}", "dest": dest, "sha256": sha256(served / dest)}
        return {**f, "extract_to": extract_to} if extract_to else f

    return {
        "IXI": {"files": [entry("IXI/IXI-T1.tar", "IXI/IXI-T1"), entry("IXI/IXI-T2.tar", "IXI/IXI-T2")]},
        "MSLUB": {"file_template": [
            {"url": f"{base_url}/MSLUB/coregistered/{{subject}}/{name}",
             "dest": f"MSLUB/coregistered/{{subject}}/{name}", "sha256": None}
            for name in ("T2W.nii.gz", "consensus_gt.nii.gz", "brainmask.nii.gz")]},
        "WMH": {"files": [entry("WMH/dataverse_files.zip", "WMH/_archive")]},
        "SRI24": {"files": [entry("SRI24/sri24_spm8.zip", "SRI24")]},
        "HD-BET": {"url": f"{base_url}/HD-BET/weights.zip", "sha256": None},
    }
