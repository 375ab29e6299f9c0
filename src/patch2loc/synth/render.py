"""Rendering: tissue image, pose, deformation, bias and noise in native space; writing demo datasets."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, RawScan, raw_paths
from patch2loc.files.io import save_volume
from patch2loc.synth.fields import coarse_field, random_rotation, smooth_noise
from patch2loc.synth.lesions import LesionMap, draw_lesions
from patch2loc.synth.subjects import subject_seed, write_ixi_demographics_csv
from patch2loc.synth.template import Template
from patch2loc.synth.variation import subject_template

CONTRASTS = ("T1", "T2")
TISSUES = ("csf", "gm", "wm", "skull", "scalp")

# Tissue means as a fraction of the scan's gain (T1: WM > GM > CSF; T2: CSF > GM > WM).
# The skull is dark in both; scalp fat is bright in T1 and intermediate in T2.
TISSUE_MEANS = {
    "T1": {"csf": 0.25, "gm": 0.60, "wm": 0.90, "skull": 0.08, "scalp": 0.80},
    "T2": {"csf": 1.00, "gm": 0.55, "wm": 0.40, "skull": 0.06, "scalp": 0.45},
}
CONTRAST_JITTER = 0.06  # per-scan relative jitter of each tissue mean (keeps the order)
GAIN_RANGE = (400.0, 1500.0)  # arbitrary scanner units, as in raw scans
TEXTURE_STD = 0.04  # multiplicative anatomical texture
NOISE_STD = 0.025  # Rician noise sigma, fraction of the brightest tissue mean
BIAS_MAX = 0.18  # bias field within exp(+-BIAS_MAX) (about +-20%)
MAX_ROTATION_DEG = 10.0
MAX_TRANSLATION_MM = 10.0
MAX_SCALING = 0.05
DEFORMATION_STD_MM = 2.0  # std of the smooth displacement at its control points
FOV_PAD_MM = 12.0  # native field of view = template grid + this margin on every side
SHELL_MM = (2.0, 7.0, 12.0)  # outside the brain: extra-axial CSF up to 2 mm, skull to 7, scalp to 12
# Lesion sets whose real contrasts share one grid (BraTS21: SRI24; MSLUB's coregistered/: FLAIR's): a
# second contrast is rendered on the first's pose and grid (`render_scan(grid_of=...)`), with its own
# contrast, bias and noise, and shares the first's lesion and brain masks.
COREGISTERED = ("BraTS21", "MSLUB")


@dataclass
class Rendered:
    """A synthetic scan in native space."""

    image: np.ndarray  # float32
    brain: np.ndarray  # bool brain mask (the skull-strip stand-in)
    seg: np.ndarray | None  # uint8 lesion labels (None without lesion)
    affine: np.ndarray  # voxel -> world (mm), axis-aligned scanner grid
    pose: np.ndarray  # 4x4 world -> world: where the template brain was moved to (before deformation)


def _tissue_image(
    tpl: Template, means: dict[str, float], texture: np.ndarray, skull: bool, lesions: LesionMap | None
) -> np.ndarray:
    """Template-space image: tissue fractions times means, times texture."""
    csf, gm, wm = tpl.csf, tpl.gm, tpl.wm
    if lesions is not None and lesions.displacement is not None:  # the brain moved by the lesion
        coords = np.indices(tpl.shape, dtype=np.float32) + lesions.displacement
        csf, gm, wm = (ndimage.map_coordinates(t, coords, order=1, mode="nearest") for t in (csf, gm, wm))
    if lesions is not None:
        hit = lesions.labels > 0
        csf = np.where(hit, lesions.composition[0], csf)
        gm = np.where(hit, lesions.composition[1], gm)
        wm = np.where(hit, lesions.composition[2], wm)
    image = means["csf"] * csf + means["gm"] * gm + means["wm"] * wm
    if skull:
        d = tpl.outside_mm
        shell = np.zeros(tpl.shape, np.float32)
        shell[(d > 0) & (d <= SHELL_MM[0])] = means["csf"]
        shell[(d > SHELL_MM[0]) & (d <= SHELL_MM[1])] = means["skull"]
        shell[(d > SHELL_MM[1]) & (d <= SHELL_MM[2])] = means["scalp"]
        image = image + shell
    return (image * texture).astype(np.float32)


def _contrast_means(scan: np.random.Generator, modality: str) -> dict[str, float]:
    """Scan contrast: per-tissue jitter, then an overall gain (arbitrary units)."""
    means = {k: v * (1.0 + scan.uniform(-CONTRAST_JITTER, CONTRAST_JITTER)) for k, v in TISSUE_MEANS[modality].items()}
    gain = scan.uniform(*GAIN_RANGE)
    return {k: v * gain for k, v in means.items()}


def _pose_matrix(tpl: Template, rng: np.random.Generator) -> np.ndarray:
    """World -> world 4x4 pose of the subject: rotation and scaling about the brain centre, shift."""
    world = tpl.world()
    centre = np.array([(world[i][tpl.brain]).mean() for i in range(3)])
    linear = random_rotation(rng, MAX_ROTATION_DEG) @ np.diag(rng.uniform(1 - MAX_SCALING, 1 + MAX_SCALING, 3))
    shift = rng.uniform(-MAX_TRANSLATION_MM, MAX_TRANSLATION_MM, 3)
    pose = np.eye(4)
    pose[:3, :3] = linear
    pose[:3, 3] = centre + shift - linear @ centre
    return pose


def _scan_pose(tpl, scan: np.random.Generator, seed: int, modality: str, grid_of: str | None) -> np.ndarray:
    """The scan's pose: its own draw, or the grid contrast's, drawn as that contrast's own render draws
    it (after its contrast means), so that two contrasts of a co-registered set share one grid."""
    if grid_of in (None, modality):
        return _pose_matrix(tpl, scan)
    grid_scan = np.random.default_rng([seed, 3, zlib.crc32(grid_of.encode())])
    _contrast_means(grid_scan, grid_of)
    return _pose_matrix(tpl, grid_scan)


def _bias_and_noise(image: np.ndarray, scan: np.random.Generator, spacing: float, means: dict, noise: bool):
    """The scanner's part, on the native grid: a smooth multiplicative bias field, then Rician noise."""
    shape = image.shape
    image *= np.exp(
        scan.uniform(0.3, 1.0) * BIAS_MAX * np.tanh(coarse_field(scan, shape, spacing)[0])
    )  # in place: float32
    if noise:
        sigma = NOISE_STD * max(means["wm"], means["csf"])
        real = image + sigma * scan.standard_normal(shape, dtype=np.float32)
        imag = sigma * scan.standard_normal(shape, dtype=np.float32)
        image = np.sqrt(real**2 + imag**2)
    return image


def render_scan(
    dataset: str,
    modality: str,
    seed: int,
    spacing: float = 2.0,
    *,
    lesion: bool = True,
    noise: bool = True,
    skull: bool | None = None,
    lesion_model: str = "intensity",
    anatomies: tuple[str, ...] = ("mni152",),
    variation: str = "none",
    grid_of: str | None = None,
) -> Rendered:
    """Render one synthetic scan in native space (no file written).

    `seed` fixes the subject: the same (seed, modality) gives identical arrays; T1 and T2 with
    one seed are the same brain and lesion (with their own pose, contrast, bias and noise). `lesion=False` renders the
    same subject healthy; `noise=False` leaves out the Rician noise (for tests). `skull` defaults
    to a skull/scalp shell except for BraTS21, which comes skull-stripped like the real data.
    `lesion_model`: "intensity" (lesions change the tissue they fill) or "anatomical" (tumours and
    strokes also move the brain around them; `lesions.draw_lesions`).
    `anatomies` and `variation`: the subject's source anatomy and its normal variation
    (`variation.subject_template`); the defaults render every subject from the MNI152 template.
    `grid_of`: another contrast whose pose and grid this scan takes (a co-registered set's second
    contrast; its contrast, bias and noise from a stream of its own).
    """
    if dataset not in MODALITIES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MODALITIES)}")
    if modality not in CONTRASTS:
        raise ValueError(f"unknown modality {modality!r}; the demo makes {CONTRASTS}")
    stripped = dataset == "BraTS21"
    skull = (not stripped) if skull is None else skull
    tpl = subject_template(spacing, seed, tuple(anatomies), variation)
    anatomy = np.random.default_rng([seed, 1])
    scan = np.random.default_rng([seed, 3, zlib.crc32(modality.encode())])

    if grid_of not in (None, modality):  # its own stream: the grid contrast's draws stay as they are
        scan = np.random.default_rng([seed, 4, zlib.crc32(modality.encode())])
    means = _contrast_means(scan, modality)

    texture = 1.0 + TEXTURE_STD * smooth_noise(anatomy, tpl.shape, sigma_vox=1.0)
    with_lesion = lesion and dataset in LESION_DATASETS
    lesions = draw_lesions(dataset, spacing, seed, lesion_model, tpl) if with_lesion else None
    image_t = _tissue_image(tpl, means, texture, skull, lesions)

    # Native grid: axis-aligned, the template's field of view plus a margin.
    pad = int(np.ceil(FOV_PAD_MM / spacing))
    shape = tuple(n + 2 * pad for n in tpl.shape)
    native_affine = np.array(tpl.affine, dtype=np.float64)
    native_affine[:3, 3] -= spacing * pad
    pose = _scan_pose(tpl, scan, seed, modality, grid_of)
    # native voxel -> world -> (undo pose) template world -> template voxel
    to_template = np.linalg.inv(np.array(tpl.affine)) @ np.linalg.inv(pose) @ native_affine
    idx = np.indices(shape, dtype=np.float32)
    coords = np.einsum("ij,jxyz->ixyz", to_template[:3, :3].astype(np.float32), idx)
    coords += to_template[:3, 3].astype(np.float32)[:, None, None, None]
    del idx
    # Anatomical deformation, defined on the template grid (the same brain in T1 and T2).
    displacement = coarse_field(anatomy, tpl.shape, spacing, n_fields=3) * (DEFORMATION_STD_MM / spacing)
    coords += np.stack([ndimage.map_coordinates(u, coords, order=1, mode="nearest") for u in displacement])

    image = ndimage.map_coordinates(image_t, coords, order=1, mode="constant", cval=0.0)
    brain = ndimage.map_coordinates(tpl.brain.astype(np.uint8), coords, order=0, mode="constant", cval=0) > 0
    seg = None
    if lesions is not None:
        seg = ndimage.map_coordinates(lesions.labels, coords, order=0, mode="constant", cval=0).astype(np.uint8)
    del coords

    image = _bias_and_noise(image, scan, spacing, means, noise)
    if stripped:
        image = np.where(brain, image, 0.0)
    return Rendered(image.astype(np.float32), brain, seg, native_affine, pose)


def synthesize_scan(
    dataset: str,
    modality: str,
    subject: str,
    raw_root: str | Path,
    seed: int,
    spacing: float = 2.0,
    *,
    lesion: bool = True,
    noise: bool = True,
    lesion_model: str = "intensity",
    anatomies: tuple[str, ...] = ("mni152",),
    variation: str = "none",
    grid_of: str | None = None,
    masks: bool = True,
) -> RawScan:
    """Render one subject and write it to its dataset's raw layout under `raw_root`.

    Writes the image, the brain mask where the layout has one (BraTS21 has none: its image is
    zero outside the brain) and, for lesion datasets, the lesion labels (`masks=False`: the image
    alone, for a contrast on another's grid, whose masks these are). Returns the paths.
    """
    paths = raw_paths(dataset, raw_root, subject, modality)
    scan = render_scan(
        dataset,
        modality,
        seed,
        spacing,
        lesion=lesion,
        noise=noise,
        lesion_model=lesion_model,
        anatomies=anatomies,
        variation=variation,
        grid_of=grid_of,
    )
    # Stored as int16, like most raw scanner exports (and half the size of float32).
    save_volume(
        np.clip(np.rint(scan.image), 0, np.iinfo(np.int16).max).astype(np.int16), paths.image, affine=scan.affine
    )
    if masks and paths.mask is not None:
        save_volume(scan.brain.astype(np.uint8), paths.mask, affine=scan.affine)
    if masks and paths.seg is not None:
        seg = scan.seg if scan.seg is not None else np.zeros(scan.image.shape, np.uint8)
        save_volume(seg, paths.seg, affine=scan.affine)
    return paths


def synthesize_dataset(
    dataset: str,
    subjects: list[str],
    raw_root: str | Path,
    seed: int,
    spacing: float = 2.0,
    modalities: tuple[str, ...] | list[str] | None = None,
    lesion_model: str = "intensity",
    anatomies: tuple[str, ...] | list[str] = ("mni152",),
    variation: str = "none",
) -> list[RawScan]:
    """Write every subject of a demo dataset (IXI: T1 and T2, and IXI.csv, its demographics in
    IXI.xls's columns; lesion sets: their modality, and the others `modalities` lists: BraTS21's and
    MSLUB's T1 on their T2's grid, as the real sets ship it, with T2's lesion and brain masks).

    Each subject's seed comes from (seed, dataset, subject), so the modalities of one subject
    share anatomy and adding subjects leaves the existing ones unchanged. `anatomies`, `variation`:
    config demo.anatomies and demo.variation (docs/demo.md (Anatomy)).
    """
    if dataset not in MODALITIES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MODALITIES)}")
    modalities = tuple(modalities) if modalities is not None else MODALITIES[dataset]
    grid = MODALITIES[dataset][0] if dataset in COREGISTERED else None
    scans = []
    for subject in subjects:
        s = subject_seed(seed, dataset, subject)
        for modality in modalities:
            scans.append(
                synthesize_scan(
                    dataset,
                    modality,
                    subject,
                    raw_root,
                    s,
                    spacing,
                    lesion_model=lesion_model,
                    anatomies=tuple(anatomies),
                    variation=variation,
                    grid_of=grid,
                    masks=modality == grid or grid not in modalities,
                )
            )
    if dataset == "IXI":  # sites are in the ids; sexes and ages in IXI.xls's columns, as a csv
        write_ixi_demographics_csv(subjects, seed, Path(raw_root) / "IXI" / "IXI.csv")
    return scans
