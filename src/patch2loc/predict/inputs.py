"""Which scans one `predict` call scores: files, folders, csv lists and DICOM series.

Each `--image` may be a NIfTI file, a folder of NIfTI files, a folder holding one DICOM series,
or a csv with the columns `image[,mask[,seg]]` (paths relative to the csv's folder or absolute).
Every scan gets an id (file name without .nii/.nii.gz, or the DICOM folder's name) that names
its outputs; ids must be unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patch2loc.checks.claims import regular_file
from patch2loc.checks.scanlist import read_scan_list
from patch2loc.errors import InputError
from patch2loc.predict.dicom import dicom_series

NIFTI = (".nii.gz", ".nii")


@dataclass
class ScanInput:
    id: str
    image: Path  # a NIfTI file or a DICOM series folder
    mask: Path | None = None
    seg: Path | None = None

    @property
    def is_dicom(self) -> bool:
        return self.image.is_dir()


def scan_id(path: Path) -> str:
    name = path.name
    for suffix in NIFTI:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_nifti(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(NIFTI)


def _from_folder(folder: Path) -> list[ScanInput]:
    niftis = sorted(p for p in folder.iterdir() if _is_nifti(p) and not p.name.startswith("."))
    if niftis:
        return [ScanInput(scan_id(p), p) for p in niftis]
    series = dicom_series(folder)
    if len(series) == 1:
        return [ScanInput(folder.name, folder)]
    if len(series) > 1:
        raise InputError(f"{folder}: holds {len(series)} DICOM series. Put each series in a folder of its own.")
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and dicom_series(p))
    if subfolders:  # a folder of DICOM series folders
        return [ScanInput(p.name, p) for p in subfolders]
    raise InputError(f"{folder}: no NIfTI files (.nii, .nii.gz) and no DICOM series in it. Check the folder.")


def _from_csv(path: Path) -> list[ScanInput]:
    rows = read_scan_list(path, ("image",), ("mask", "seg"))
    return [ScanInput(scan_id(r["image"]), r["image"], r["mask"], r["seg"]) for r in rows]


def expand(images: list[str], mask: str | None, seg: str | None) -> list[ScanInput]:
    """The scans named by the `--image` arguments; `--mask`/`--seg` apply to a single scan."""
    scans: list[ScanInput] = []
    for text in images:
        p = Path(text)
        if p.is_dir():
            scans += _from_folder(p)
        elif p.name.lower().endswith(".csv") and p.is_file():
            scans += _from_csv(p)
        else:  # a regular file; a FIFO, socket or device is named as such, never opened
            scans.append(ScanInput(scan_id(p), regular_file(p, "--image")))
    if (mask or seg) and len(scans) != 1:
        raise InputError(
            f"{mask or seg}: --mask and --seg belong to one scan, but --image names {len(scans)}. "
            "For several scans list image,mask,seg in a csv."
        )
    if scans and mask:
        scans[0].mask = Path(mask)
    if scans and seg:
        scans[0].seg = Path(seg)
    seen: dict[str, Path] = {}
    for s in scans:
        if s.id in seen:
            raise InputError(
                f"{s.image}: has the same name ({s.id}) as {seen[s.id]}, so their outputs would "
                "collide. Rename one, or score them in separate calls."
            )
        seen[s.id] = s.image
    return scans
