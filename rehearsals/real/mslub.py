"""MSLUB fixtures with the real files' headers, in the mirror's and the official archive's layout.

Headers of the co-registered files (read from the public mirror muschellij2/open_ms_data,
cross_sectional/coregistered/, for all 30 patients; docs/real-data.md): 192 x 512 x 512 voxels of
0.8 x 0.46875 x 0.46875 mm, voxel axes L, P, S, no obliquity (patient11: 176 slices of 0.9 mm;
patient18: 0.9 mm). The brain mask's origin is half a voxel off the ground truth's (-0.5 voxel
along each axis: +0.40, +0.234, -0.234 mm; +0.45 mm on the first axis for 0.9 mm slices) in every
patient but patient12. The image is written on the ground truth's grid (see docs/real-data.md for
why), the brain mask with its data on that grid and its header half a voxel off, as shipped.
"""

from __future__ import annotations

from pathlib import Path

from patch2loc.data.layouts import raw_paths
from rehearsals.real.geometry import make_grid
from rehearsals.real.scans import Plan, centre, field_of_view, offset_affine, render, vox, write

SHAPE, SPACING = (192, 512, 512), (0.8, 0.46875, 0.46875)
OTHER = {
    "patient11": ((176, 512, 512), (0.9, 0.46875, 0.46875)),
    "patient18": ((192, 512, 512), (0.9, 0.46875, 0.46875)),
}
MASK_OFFSET = (-0.5, -0.5, -0.5)  # voxels; none for patient12
RAW_T2 = ((0.47, 0.47, 3.0), (230, 230, 160), "RAS")  # raw/: the original T2 grid (not used by the pipeline)


def header(subject: str) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """(shape, voxel size in mm, brain-mask origin offset in voxels) of a patient's co-registered files."""
    shape, spacing = OTHER.get(subject, (SHAPE, SPACING))
    return shape, spacing, (0.0, 0.0, 0.0) if subject == "patient12" else MASK_OFFSET


def build_mslub(served: Path, raw_root: Path, subjects: list[str], plan: Plan) -> None:
    """Mirror layout under served/MSLUB (the download), or the official one under raw_root/MSLUB."""
    for s in subjects:
        r = render("MSLUB", "T2", s, plan.seed, plan.render_spacing)
        shape, spacing, offset = header(s)
        grid = make_grid("LPS", vox(spacing, plan, "MSLUB"), field_of_view(shape, spacing), centre(r))
        spacing_raw, fov_raw, codes = RAW_T2
        raw = make_grid(codes, vox(spacing_raw, plan, "MSLUB"), fov_raw, centre(r))
        if plan.mslub_layout == "official":  # patientXX/patientXX_*.nii.gz, patientXX/raw/
            folder = raw_root / "MSLUB" / s
            image, seg, mask = (folder / f"{s}_{n}.nii.gz" for n in ("T2W", "consensus_gt", "brainmask"))
            write(r, raw, folder / "raw" / f"{s}_T2W.nii.gz")
        else:  # the mirror: coregistered/patientXX/ (what the workflow downloads) and raw/patientXX/
            scan = raw_paths("MSLUB", served, s, "T2")
            image, seg, mask = scan.image, scan.seg, scan.mask
            write(r, raw, served / "MSLUB" / "raw" / s / "T2W.nii.gz")
        write(r, grid, image, seg=seg, mask=mask, mask_affine=offset_affine(grid, offset))
