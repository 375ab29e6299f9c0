"""Hostile files for the hostile CLI tests (tests/helpers/hostile_cli.py): NIfTI and checkpoint decompression bombs, DICOM series."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import numpy as np


def nifti(path: Path, data: np.ndarray, affine=None, header=None) -> Path:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.eye(4) if affine is None else np.asarray(affine), header), str(path))
    return path


def _header(shape: tuple[int, ...]):
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header.set_sform(np.eye(4), code=1)
    header.set_qform(np.eye(4), code=1)
    return header.binaryblock + b"\0" * 4  # + the empty extension flag: data at offset 352


def nifti_bomb(path: Path, shape: tuple[int, ...]) -> Path:
    """A .nii.gz of about 1 MB whose int16 zeros fill 2 * prod(shape) bytes when read."""
    zeros = bytes(1 << 24)
    total = 2 * int(np.prod(shape))
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(_header(shape))
        for _ in range(total // len(zeros)):
            f.write(zeros)
        f.write(bytes(total % len(zeros)))
    return path


def header_only_nifti(path: Path, shape: tuple[int, ...]) -> Path:
    """A header that claims `shape` and no data after it (a few dozen bytes gzipped)."""
    with gzip.open(path, "wb") as f:
        f.write(_header(shape))
    return path


def zip_bomb_checkpoint(path: Path, numel: int) -> Path:
    """A torch.save checkpoint holding `numel` zero floats, re-zipped with DEFLATE: about a
    thousandth of its size on disk, all of it in memory when torch reads it. Its fields are what
    training writes, so its size is the one thing to refuse it for."""
    import torch
    from tests.helpers.checkpoints import as_written

    plain = path.with_suffix(".plain")
    weights = {"model": {"conv1.weight": torch.empty(numel)}, "patch_size": 4}  # empty(): fresh pages, zeros
    torch.save(as_written(weights, grid=(32, 32, 20)), plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as dst:
        for info in src.infolist():
            with src.open(info) as r, dst.open(info.filename, "w", force_zip64=True) as w:
                shutil.copyfileobj(r, w, 1 << 24)
    plain.unlink()
    return path


def dicom_series(source: Path, folder: Path) -> list[Path]:
    """One DICOM file per axial slice of the NIfTI `source` (int16), with the tags GDCM needs to
    order the slices and rebuild the geometry."""
    import SimpleITK as sitk

    volume = sitk.Cast(sitk.ReadImage(str(source)), sitk.sitkInt16)
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    d = volume.GetDirection()
    orientation = "\\".join(f"{v:.8f}" for v in (d[0], d[3], d[6], d[1], d[4], d[7]))
    spacing = volume.GetSpacing()
    files = []
    for z in range(volume.GetDepth()):
        piece = volume[:, :, z]
        origin = volume.TransformIndexToPhysicalPoint((0, 0, z))
        for tag, value in (
            ("0008|0060", "MR"),
            ("0020|000d", "1.2.826.0.1.3680043.2.1125.7"),
            ("0020|000e", "1.2.826.0.1.3680043.2.1125.8"),
            ("0020|0037", orientation),
            ("0020|0032", "\\".join(f"{v:.8f}" for v in origin)),
            ("0020|0013", str(z + 1)),
            ("0028|0030", f"{spacing[1]:.8f}\\{spacing[0]:.8f}"),
            ("0018|0050", f"{spacing[2]:.8f}"),
        ):
            piece.SetMetaData(tag, value)
        files.append(folder / f"slice{z:03d}.dcm")
        writer.SetFileName(str(files[-1]))
        writer.Execute(piece)
    return files
