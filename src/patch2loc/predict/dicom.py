"""DICOM series: one complete, evenly spaced series per folder, or a one-line refusal.

GDCM (SimpleITK's series reader) silently leaves out a file it cannot parse, such as a truncated
or malformed slice, and ITK then stacks the remaining slices at their *average* spacing: a series
of 107 slices of 2.0 mm with one bad slice became 106 slices of 2.019 mm, with every slice after
the gap misplaced. We refuse rather than warn: nothing in the outputs would show the shift (the
native heatmap, lesion volumes in mL and centroids would all be quietly wrong), and the fix,
re-exporting the series, is quick. Checked from the slice headers, before any voxel is read:
- every regular file in the folder (hidden files and DICOMDIR aside) is a readable slice of the series;
- all slices have the same size and orientation, and their positions along the slice normal are
  distinct and evenly spaced (within 1 % of the spacing, at least 0.01 mm);
- the number of slices equals ImagesInAcquisition (0020,1002) when the series records it;
- rows x columns x slices is within PATCH2LOC_MAX_IMAGE_MB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patch2loc.checks.claims import Claims
from patch2loc.checks.limits import check_image_size
from patch2loc.errors import InputError

SPACING_TOLERANCE = 0.01  # relative, of the median slice spacing
IGNORED = {"DICOMDIR"}
FIX = "Re-export the complete series into a folder of its own."


def dicom_series(folder: Path) -> list[str]:
    """Series ids of the DICOM files directly in `folder` (empty when there are none)."""
    import SimpleITK as sitk

    from patch2loc.preprocessing.imaging import quiet_itk

    with quiet_itk():
        return list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)) or [])


def _slice_header(path: str):
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputError(f"{path}: not a readable DICOM slice (truncated or malformed). {FIX}") from None
    _check_pixel_bytes(path, reader)
    return reader


# The Pixel Data tag (7FE0,0010) in little and big endian files.
PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")
UNDEFINED = 0xFFFFFFFF  # the length of encapsulated (compressed) pixel data


def _check_pixel_bytes(path: str, reader) -> None:
    """A slice's file holds all the pixels its header declares: some GDCM releases list a slice cut
    short and read it without an error, so the header alone does not show it."""
    import SimpleITK as sitk

    data = Path(path).read_bytes()
    for order, tag in zip(("little", "big"), PIXEL_TAGS):
        at = data.find(tag, 132)  # after the preamble; the first is the element, later ones are pixels
        if at >= 0:
            break
    else:
        return  # no pixel data element found: GDCM's own reading decides
    start = at + (12 if data[at + 4 : at + 6] in (b"OB", b"OW") else 8)
    declared = int.from_bytes(data[start - 4 : start], order)
    if declared == UNDEFINED:
        return  # compressed: no fixed length to compare
    size = reader.GetSize()
    item = sitk.Image([1, 1], reader.GetPixelID()).GetSizeOfPixelComponent()
    if len(data) - start < min(declared, size[0] * size[1] * reader.GetNumberOfComponents() * item):
        raise InputError(
            f"{path}: this file in the DICOM folder is not a readable slice of its series (truncated: its "
            f"pixel data is cut short). {FIX}"
        )


def check_series(folder: Path, files: list[str]):
    """Refuse an incomplete or irregular series (see the module doc); returns what it claims
    (claims.Claims: size, voxel type, voxel sizes; the affine of its first slice's frame)."""
    import SimpleITK as sitk

    listed = {Path(f).name for f in files}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.name not in IGNORED and p.name not in listed:
            raise InputError(
                f"{p}: this file in the DICOM folder is not a readable slice of its series (truncated, "
                f"malformed or foreign); the series would be read without it. {FIX}"
            )
    headers = [_slice_header(f) for f in files]
    first = headers[0]
    sizes = {tuple(h.GetSize()[:2]) for h in headers}
    directions = np.array([h.GetDirection() for h in headers])
    if len(sizes) > 1 or np.abs(directions - directions[0]).max() > 1e-4:
        raise InputError(f"{folder}: the DICOM slices differ in size {sorted(sizes)} or orientation. {FIX}")
    item = sitk.Image([1, 1, 1], first.GetPixelID()).GetSizeOfPixelComponent()
    check_image_size(folder, (*first.GetSize()[:2], len(files)), item, "the DICOM series")
    normal = directions[0].reshape(3, 3)[:, 2]
    positions = np.sort([float(np.dot(h.GetOrigin(), normal)) for h in headers])
    step = float(first.GetSpacing()[2]) if len(first.GetSpacing()) > 2 else 1.0
    if len(positions) > 1:
        gaps = np.diff(positions)
        step = float(np.median(gaps))
        if step <= 0 or np.abs(gaps - step).max() > max(SPACING_TOLERANCE * step, 0.01):
            raise InputError(
                f"{folder}: the DICOM slices are not evenly spaced (gaps from {gaps.min():.3g} to "
                f"{gaps.max():.3g} mm): a slice is missing or repeated. {FIX}"
            )
    if first.HasMetaDataKey("0020|1002"):
        try:
            expected = int(first.GetMetaData("0020|1002").strip())
        except ValueError:
            expected = len(files)
        if expected != len(files):
            raise InputError(
                f"{folder}: the series has {len(files)} slices but records ImagesInAcquisition = {expected}. {FIX}"
            )
    zooms = (float(first.GetSpacing()[0]), float(first.GetSpacing()[1]), step)
    return Claims(
        (*first.GetSize()[:2], len(files)),
        np.dtype(f"i{item}" if item in (1, 2, 4, 8) else "f4"),
        np.diag([*zooms, 1.0]),
        zooms,
    )


def series_claims(folder: Path):
    """What the one DICOM series in `folder` claims, its slices checked (check_series)."""
    return check_series(folder, _files(folder))


def _files(folder: Path) -> list[str]:
    import SimpleITK as sitk

    from patch2loc.preprocessing.imaging import quiet_itk

    series = dicom_series(folder)
    if len(series) != 1:
        raise InputError(f"{folder}: expected one DICOM series, found {len(series)}. One series per folder.")
    with quiet_itk():
        return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0]))


def series_files(folder: Path) -> list[str]:
    """The slice files of the one DICOM series in `folder`, checked (check_series)."""
    files = _files(folder)
    check_series(folder, files)
    return files


def dicom_to_nifti(folder: Path, out: Path) -> Path:
    """Read the one DICOM series in `folder` (checked: series_files) and write it as NIfTI at `out`."""
    import SimpleITK as sitk

    from patch2loc.preprocessing.imaging import quiet_itk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(series_files(folder))
    try:
        with quiet_itk():
            image = reader.Execute()
    except RuntimeError as exc:
        raise InputError(
            f"{folder}: the DICOM series cannot be read ({str(exc).strip()[-160:]}). Re-export the series."
        ) from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{folder}: the DICOM series is not one 3D scalar volume. Export a single 3D series.")
    sitk.WriteImage(image, str(out))
    return out
