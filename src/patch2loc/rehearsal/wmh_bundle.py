"""The WMH challenge data as DataverseNL serves it: a bundle cut off at the zip limit, the dataset's
file listing and the per-file access API (what data.dataverse reads).

Bundle contents (the real one): training/ (60 subjects), test/ (110, with wmh.nii.gz too),
additional_annotations/, readme.pdf, and Dataverse's MANIFEST.TXT. Every pre/ image has 3 mm slices
(0.96-1.2 mm in-plane, 132 x 232 x 48 to 256 x 256 x 83 voxels); the per-site matrices below are
within that range, their axis orders and the test/ and additional_annotations/ file names are not
taken from the real headers (docs/real-data.md).

Served under WMH/: dataverse_files.zip (files in dataset order until the limit, the rest named in
MANIFEST.TXT), api/files.json (the native API's file listing: label, directoryLabel, dataFile.id,
MD5) and api/access/datafile/<id> (each file).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from pathlib import Path

from patch2loc.rehearsal.geometry import make_grid
from patch2loc.rehearsal.scans import Plan, centre, field_of_view, render, tilted, vox, write

# site -> folder in the bundle, pre/ matrix, pre/ voxel size (mm), voxel axes
SITES = {"Utrecht": ("Utrecht", (240, 240, 48), (0.958, 0.958, 3.0), "LPS"),
         "Singapore": ("Singapore", (232, 256, 48), (0.977, 0.977, 3.0), "RAS"),
         "GE3T": ("Amsterdam/GE3T", (132, 256, 83), (1.2, 0.977, 3.0), "LAS"),
         "GE1T5": ("Amsterdam/GE1T5", (132, 256, 83), (1.2, 0.977, 3.0), "LAS")}  # test/ only
FIRST_ID = {"Utrecht": 0, "Singapore": 50, "GE3T": 100}
README_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def wmh_ids(n: int) -> list[str]:
    sites = list(FIRST_ID)
    return [f"{sites[i % 3]}_{FIRST_ID[sites[i % 3]] + i // 3}" for i in range(n)]


def test_ids(n: int) -> list[str]:
    return [f"{('GE1T5', 'Utrecht')[i % 2]}_{500 + i}" for i in range(n)]


def _subject(folder: Path, s: str, plan: Plan, bad: bool) -> None:
    site, _ = s.rsplit("_", 1)
    _, shape, spacing, codes = SITES[site]
    t1 = render("WMH", "T1", s, plan.seed, plan.render_spacing)
    flair = render("WMH", "T2", s, plan.seed, plan.render_spacing)  # FLAIR stand-in
    grid = make_grid(codes, vox(spacing, plan, "WMH"), field_of_view(shape, spacing), centre(t1))
    wrong = tilted(grid) if bad else None
    mask = folder / "pre" / "brainmask.nii.gz" if "WMH" in plan.user_masks else None
    write(t1, grid, folder / "pre" / "T1.nii.gz", seg=folder / "wmh.nii.gz", mask=mask, affine=wrong)
    write(flair, grid, folder / "pre" / "FLAIR.nii.gz", affine=wrong)
    native = make_grid("PSR", vox((1.0, 1.0, 1.0), plan, "WMH"), (230, 240, 190), centre(t1))
    write(t1, native, folder / "orig" / "3DT1.nii.gz")  # the unregistered 3D T1
    write(flair, grid, folder / "orig" / "FLAIR.nii.gz")


def _bundle_files(root: Path, subjects: list[str], plan: Plan) -> None:
    for split, ids in (("training", subjects), ("test", test_ids(plan.wmh_test))):
        for s in ids:
            site, sid = s.rsplit("_", 1)
            _subject(root / split / SITES[site][0] / sid, s, plan, bad=plan.bad_wmh and s == subjects[-1])
    # Another observer's mask of the first subject, named like the reference masks (here: a copy):
    # arranging must not take additional_annotations/ for subjects.
    site, sid = subjects[0].rsplit("_", 1)
    other = root / "additional_annotations" / "o3" / SITES[site][0] / sid / "wmh.nii.gz"
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_bytes((root / "training" / SITES[site][0] / sid / "wmh.nii.gz").read_bytes())
    (root / "readme.pdf").write_bytes(README_PDF)


def build_wmh(served: Path, subjects: list[str], plan: Plan) -> list[str]:
    """Write served/WMH/ (bundle, listing, per-file API); return the served names of the left-out files."""
    out = served / "WMH"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _bundle_files(root, subjects, plan)
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        keep = len(files) - plan.wmh_left_out
        limit = sum((root / f).stat().st_size for f in files[:keep]) + 1  # what fits, as Dataverse fills it
        listing, manifest, left_out = [], [], []
        (out / "api" / "access" / "datafile").mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out / "dataverse_files.zip", "w", zipfile.ZIP_STORED) as zf:
            for i, name in enumerate(files):
                data = (root / name).read_bytes()
                file_id = 7001 + i
                (out / "api" / "access" / "datafile" / str(file_id)).write_bytes(data)
                folder, _, label = name.rpartition("/")
                listing.append({"label": label, "directoryLabel": folder or None, "restricted": False,
                                "dataFile": {"id": file_id, "filename": label, "filesize": len(data),
                                             "checksum": {"type": "MD5", "value": hashlib.md5(data).hexdigest()}}})
                mime = "application/pdf" if label.endswith(".pdf") else "application/gzip"
                if i < keep:
                    zf.writestr(name, data)
                    manifest.append(f"{name} ({mime}) {len(data)} bytes.")
                else:  # Dataverse names a left-out file by its label only
                    manifest.append(f"{label} ({mime}) skipped because the total size of the download bundle "
                                    f"exceeded the limit of {limit} bytes.")
                    left_out.append(f"WMH/api/access/datafile/{file_id}")
            zf.writestr("MANIFEST.TXT", "\r\n".join(manifest) + "\r\n")
    (out / "api" / "files.json").write_text(json.dumps({"status": "OK", "data": listing}, indent=1))
    return left_out
