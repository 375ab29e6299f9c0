"""The WMH challenge data as DataverseNL serves it: the dataset's file listing and the per-file
access API (what data.wmh and data.dataverse read), with the real dataset's folder names.

The real dataset: training/ (60 subjects), test/ (110, with wmh.nii.gz too), additional_annotations/
observer_o3|o4/<split>/<site>/[<scanner>/]<id>/result.nii.gz, readme.pdf; subject folders
`training/Utrecht/0`, `training/Amsterdam/GE3T/100`, `test/Amsterdam/GE1T5/<id>`,
`test/Amsterdam/Philips_VU .PETMR_01./<id>` (a space and dots in a folder name), each with
wmh.nii.gz, pre/{T1,FLAIR}.nii.gz and orig/. Every pre/ image has 3 mm slices (0.96-1.2 mm
in-plane, 132 x 232 x 48 to 256 x 256 x 83 voxels); the per-site matrices below are within that
range, their axis orders and the test sites' values are ours (docs/real-data.md). Checksums in the
listing are SHA-1, as DataverseNL publishes them.

Served under WMH/: api/files.json (the native API's listing: label, directoryLabel, dataFile.id,
SHA-1) and api/access/datafile/<id> (each file). Brain masks a user adds (`Plan.user_masks`) are
not in the dataset: they are written under raw_root/WMH/<site>/<id>/pre/, where a user puts them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from patch2loc.data.wmh import needed_files
from rehearsals.real.geometry import make_grid
from rehearsals.real.scans import Plan, centre, field_of_view, render, tilted, vox, write

# site (as in subject ids) -> folder in the dataset, pre/ matrix, pre/ voxel size (mm), voxel axes
SITES = {
    "Utrecht": ("Utrecht", (240, 240, 48), (0.958, 0.958, 3.0), "LPS"),
    "Singapore": ("Singapore", (232, 256, 48), (0.977, 0.977, 3.0), "RAS"),
    "GE3T": ("Amsterdam/GE3T", (132, 256, 83), (1.2, 0.977, 3.0), "LAS"),
    "GE1T5": ("Amsterdam/GE1T5", (132, 256, 83), (1.2, 0.977, 3.0), "LAS"),  # test/ only
    "Philips_VU_PETMR_01": ("Amsterdam/Philips_VU .PETMR_01.", (240, 240, 56), (0.98, 0.98, 3.0), "LPS"),
}
FIRST_ID = {"Utrecht": 0, "Singapore": 50, "GE3T": 100}
TEST_SITES = (("Philips_VU_PETMR_01", 160), ("GE1T5", 150))
README_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def wmh_ids(n: int) -> list[str]:
    sites = list(FIRST_ID)
    return [f"{sites[i % 3]}_{FIRST_ID[sites[i % 3]] + i // 3}" for i in range(n)]


def challenge_test_ids(n: int) -> list[str]:
    """Subjects of the dataset's test/: the first in `Philips_VU .PETMR_01.`."""
    return [f"{TEST_SITES[i % 2][0]}_{TEST_SITES[i % 2][1] + i // 2}" for i in range(n)]


def folder_of(split: str, subject: str) -> str:
    site, sid = subject.rsplit("_", 1)
    return f"{split}/{SITES[site][0]}/{sid}"


def _subject(folder: Path, s: str, plan: Plan, bad: bool, user_mask: Path | None) -> None:
    site, _ = s.rsplit("_", 1)
    _, shape, spacing, codes = SITES[site]
    t1 = render("WMH", "T1", s, plan.seed, plan.render_spacing)
    flair = render("WMH", "T2", s, plan.seed, plan.render_spacing)  # FLAIR stand-in
    grid = make_grid(codes, vox(spacing, plan, "WMH"), field_of_view(shape, spacing), centre(t1))
    wrong = tilted(grid) if bad else None
    write(t1, grid, folder / "pre" / "T1.nii.gz", seg=folder / "wmh.nii.gz", mask=user_mask, affine=wrong)
    write(flair, grid, folder / "pre" / "FLAIR.nii.gz", affine=wrong)
    native = make_grid("PSR", vox((1.0, 1.0, 1.0), plan, "WMH"), (230, 240, 190), centre(t1))
    write(t1, native, folder / "orig" / "3DT1.nii.gz")  # the unregistered 3D T1
    write(flair, grid, folder / "orig" / "FLAIR.nii.gz")


def _dataset_files(
    root: Path, raw_root: Path, training: list[str], test: list[str], in_splits: list[str], plan: Plan
) -> None:
    for split, ids in (("training", training), ("test", test)):
        for s in ids:
            site, sid = s.rsplit("_", 1)
            user = "WMH" in plan.user_masks and s in in_splits
            mask = raw_root / "WMH" / site / sid / "pre" / "brainmask.nii.gz" if user else None
            _subject(root / folder_of(split, s), s, plan, plan.bad_wmh and s == training[-1], mask)
    # Other observers' masks of the first training subjects, with the real names (copies here): never
    # taken for a subject's reference.
    for observer, s in zip(("observer_o3", "observer_o4"), training):
        other = root / "additional_annotations" / observer / folder_of("training", s) / "result.nii.gz"
        other.parent.mkdir(parents=True, exist_ok=True)
        other.write_bytes((root / folder_of("training", s) / "wmh.nii.gz").read_bytes())
    (root / "readme.pdf").write_bytes(README_PDF)


def build_wmh(
    served: Path, raw_root: Path, training: list[str], test: list[str], in_splits: list[str], plan: Plan
) -> list[str]:
    """Write served/WMH/ (listing, per-file API); return the served names of the files the
    `in_splits` subjects need, in the order they are fetched."""
    out = served / "WMH"
    (out / "api" / "access" / "datafile").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _dataset_files(root, raw_root, training, test, in_splits, plan)
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        listing, ids = [], {}
        for i, name in enumerate(files):
            data = (root / name).read_bytes()
            ids[name] = 7001 + i
            (out / "api" / "access" / "datafile" / str(ids[name])).write_bytes(data)
            folder, _, label = name.rpartition("/")
            listing.append(
                {
                    "label": label,
                    "directoryLabel": folder or None,
                    "restricted": False,
                    "dataFile": {
                        "id": ids[name],
                        "filename": label,
                        "filesize": len(data),
                        "checksum": {"type": "SHA-1", "value": hashlib.sha1(data).hexdigest()},
                    },
                }
            )
    (out / "api" / "files.json").write_text(json.dumps({"status": "OK", "data": listing}, indent=1))
    split_of = {**{s: "training" for s in training}, **{s: "test" for s in test}}
    return [
        f"WMH/api/access/datafile/{ids[f'{folder_of(split_of[s], s)}/{rel}']}"
        for s in in_splits
        for rel in needed_files()
    ]
