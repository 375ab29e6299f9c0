"""What an image file claims (size, voxel type, voxel sizes, placement), checked before it is read.

Readers call `nifti_claims` first (other formats: `imaging.image_claims`, through ITK's header
reader, kept there so that this module needs no SimpleITK). It reads only the header (of a
`.nii.gz`, the first 540 decompressed bytes) and without nibabel's silent repairs (nibabel sets a
zero voxel size to 1 mm and a negative one to its absolute value; ITK has repairs of its own, so
the two could place one scan differently), and refuses in one line:
- a path that is not a regular file (a FIFO would block the reader forever; a folder is named);
- a header that is not NIfTI-1/2, impossible dimensions or an unknown voxel type;
- anything but one 3D volume of single numbers (a 2D slice, a 4D series, RGB or complex voxels);
- more voxels than `PATCH2LOC_MAX_IMAGE_MB` allows (`limits.py`), before any voxel is read;
- an uncompressed `.nii` shorter than its header says (truncated);
- voxel sizes that are zero, negative or not finite, and a degenerate (singular) affine.
`check_orthogonal` (for the ITK chain only) refuses a sheared affine, which ITK cannot represent.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.checks.limits import check_image_size
from patch2loc.errors import InputError

NIFTI = (".nii.gz", ".nii")
SHEAR_TOLERANCE = 1e-3  # |cos| between two voxel axes; real scanners' rounding is ~1e-6
_KINDS = (
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


@dataclass
class Claims:
    shape: tuple[int, ...]
    dtype: np.dtype
    affine: np.ndarray  # voxel -> world (RAS, mm), what nibabel uses
    zooms: tuple[float, ...]


def regular_file(path, what: str, fix: str = "Check the path.") -> Path:
    """`path` as a Path if it is a regular file (or a link to one); InputError saying what it is otherwise."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found. {fix}") from None
    except OSError as exc:
        raise InputError(f"{path}: {what} cannot be accessed ({exc.strerror}). {fix}") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: {what} is a folder, not a file. {fix}")
    for test, kind in _KINDS:
        if test(mode):
            raise InputError(
                f"{path}: {what} is a {kind}, not a regular file; it was not opened (reading it could "
                "block or never end). Pass the file itself."
            )
    return path


@contextlib.contextmanager
def quiet_nibabel():
    """nibabel logs the header repairs it makes (e.g. 'pixdim[1,2,3] should be non-zero; setting 0
    dims to 1') to stderr; the checks here already refused the ones that matter."""
    logger = logging.getLogger("nibabel.global")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def is_nifti(path) -> bool:
    return str(path).lower().endswith(NIFTI)


def _read_header(path: Path, what: str):
    import nibabel as nib
    from nibabel.openers import ImageOpener

    cannot = f"{path}: cannot be read as a NIfTI {what}"
    try:
        with ImageOpener(str(path), "rb") as f:
            block = f.read(nib.Nifti2Header.sizeof_hdr)
    except Exception as exc:  # gzip/zlib/OS errors: a corrupt or truncated header
        raise InputError(f"{cannot} ({type(exc).__name__}: {exc}). Re-download or re-export it.") from None
    for klass in (nib.Nifti1Header, nib.Nifti2Header):
        for endian in ("<", ">"):
            if len(block) >= 4 and struct.unpack(f"{endian}i", block[:4])[0] == klass.sizeof_hdr:
                if len(block) < klass.sizeof_hdr:
                    raise InputError(
                        f"{cannot}: the file ends inside its header ({len(block)} bytes); it is "
                        "truncated. Re-download or re-export it."
                    )
                header = klass(block[: klass.sizeof_hdr], endian, check=False)
                if bytes(header["magic"]).rstrip(b"\0") not in (b"n+1", b"ni1", b"n+2", b"ni2"):
                    break
                return header
    raise InputError(f"{cannot}: no NIfTI-1/2 header at its start. Re-export it as NIfTI (.nii.gz).")


def nifti_claims(path, what: str = "image", fix: str = "Check the path.") -> Claims:
    """The header's claims about a NIfTI file, checked (see the module doc)."""
    path = regular_file(path, what, fix)
    header = _read_header(path, what)
    dim = [int(d) for d in header["dim"]]
    if not 1 <= dim[0] <= 7 or any(d < 1 for d in dim[1 : dim[0] + 1]):
        raise InputError(
            f"{path}: the {what}'s header gives impossible dimensions {dim[1 : max(1, dim[0]) + 1]}; "
            "the file is corrupt. Re-export it."
        )
    shape = tuple(dim[1 : dim[0] + 1])
    try:
        dtype = header.get_data_dtype()
    except Exception:
        raise InputError(
            f"{path}: the {what}'s header names an unknown voxel type (datatype "
            f"{int(header['datatype'])}). Re-export it as float32 or int16."
        ) from None
    if dtype.fields is not None or dtype.kind not in "biuf":  # RGB24, RGBA32, complex: not one number a voxel
        raise InputError(
            f"{path}: the {what} stores {dtype.name if dtype.fields is None else 'RGB'} voxels "
            f"(NIfTI datatype {int(header['datatype'])}), not one intensity per voxel; it was not read. "
            "Export a single-channel (grey-level) 3D volume."
        )
    if len(shape) < 3 or any(d != 1 for d in shape[3:]):
        raise InputError(
            f"{path}: the {what}'s header gives {len(shape)} dimension(s) {list(shape)}, not a 3D "
            "volume; it was not read. Pass one 3D volume (a 2D slice or a 4D series is refused)."
        )
    if 1 in shape[:3]:  # refused from the header, and called what it is (not a 2D image after a squeeze)
        raise InputError(
            f"{path}: the {what}'s header gives shape {list(shape[:3])}, a single slice, not a 3D volume; "
            "it was not read. Pass the whole 3D volume (several slices along each axis)."
        )
    check_image_size(path, shape, dtype.itemsize, "its header")
    if not str(path).lower().endswith(".gz"):
        need, size = int(header["vox_offset"]) + math.prod(shape) * dtype.itemsize, path.stat().st_size
        if size < need:
            raise InputError(
                f"{path}: the {what} is truncated: its header needs {need:,} bytes, the file has "
                f"{size:,}. Re-download or re-export it."
            )
    zooms = tuple(float(z) for z in header["pixdim"][1 : 1 + min(3, len(shape))])
    if not all(math.isfinite(z) and z > 0 for z in zooms):
        raise InputError(
            f"{path}: the {what}'s voxel size in its header (pixdim) is "
            f"{' x '.join(f'{z:g}' for z in zooms)} mm; zero, negative or non-finite voxel sizes "
            "are refused (volumes in mL would be wrong). Fix the header with the true voxel size."
        )
    affine = np.asarray(header.get_best_affine(), np.float64)
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    if (
        not np.isfinite(affine).all()
        or not np.all(sizes > 0)
        or abs(np.linalg.det(affine[:3, :3])) <= 1e-6 * float(np.prod(sizes))
    ):
        raise InputError(
            f"{path}: the {what}'s affine (sform/qform) is degenerate (voxel axes of length "
            f"{np.round(sizes, 4).tolist()} mm, or two axes along one line); it cannot place the scan. "
            "Fix the header (sform and qform) with the scan's true geometry."
        )
    return Claims(shape, dtype, affine, zooms)


def check_orthogonal(claims: Claims, path, what: str = "image") -> None:
    """ITK represents a grid by spacing and perpendicular axes: a sheared affine has no such form."""
    axes = claims.affine[:3, :3] / np.linalg.norm(claims.affine[:3, :3], axis=0)
    cosines = np.abs(axes.T @ axes - np.eye(3))
    if cosines.max() > SHEAR_TOLERANCE:
        angle = math.degrees(math.acos(min(1.0, float(cosines.max()))))
        raise InputError(
            f"{path}: the {what}'s affine is sheared (two voxel axes meet at {angle:.2f} degrees, not "
            "90), which the registration chain (ITK) cannot represent; it was not read. Resample the "
            "scan onto a grid with perpendicular axes first (e.g. nilearn.image.resample_img)."
        )
