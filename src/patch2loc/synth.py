"""Synthetic demo data: T1/T2 subjects and four lesion sets made from nilearn's MNI152.

No dataset can be downloaded on the build machines, so the demo fakes them. Everything starts
from the MNI152 (ICBM 2009a) T1 template and its grey/white-matter probability maps, which ship
inside the nilearn wheel. A subject is rendered in three steps:

1. Template space (the MNI grid at `spacing` mm): tissue fractions (CSF, GM, WM, plus a thin
   skull/scalp shell outside the brain) times per-scan tissue means, with an anatomical texture.
   Lesions are drawn here as their own tissue mixtures (e.g. oedema = half GM, half CSF), so
   their intensity always lies inside the range of normal tissue: thresholding alone cannot
   find them. Their labels are drawn on the same grid, so image and mask line up exactly.
2. Native space: a random pose (rotation, translation, scaling) and a smooth random
   deformation, applied by one resampling (linear for the image, nearest for masks) onto an
   axis-aligned scanner grid. The NIfTI affine is that grid's, so the posed brain sits at its
   physical place in world coordinates and registration to the atlas has real work to do.
3. Scanner: a smooth multiplicative bias field and Rician noise.

The demo's atlas (`make_atlas`) is the skull-stripped MNI152 T1 at the same spacing; it stands in
for SRI24's `T1_brain`. Random streams are split by purpose (anatomy, lesion, scan), so the T1 and
T2 of one subject share anatomy, and a subject rendered without its lesion differs from the
lesioned one only where the lesion is.
"""
from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from .datasets import LESION_DATASETS, MODALITIES, RawScan, raw_paths
from .io import save_volume

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
CONTROL_SPACING_MM = 40.0  # control-point spacing of the deformation and the bias field
FOV_PAD_MM = 12.0  # native field of view = template grid + this margin on every side
SHELL_MM = (2.0, 7.0, 12.0)  # outside the brain: extra-axial CSF up to 2 mm, skull to 7, scalp to 12

# Demo id patterns per dataset (they parse through datasets.raw_paths) and their capacity.
_ID_FORMATS = {
    "IXI": (lambda i: f"IXI{900 + i:03d}-Demo-{1000 + i:04d}", 100),
    "BraTS21": (lambda i: f"BraTS2021_{90000 + i:05d}", 10000),
    "MSLUB": (lambda i: f"patient{i + 1:02d}", 99),
    "ATLAS_v2": (lambda i: f"sub-r099s{i + 1:03d}", 999),
    "WMH": (lambda i: f"Demo_{i + 1:02d}", 99),
}
BRATS_LABELS = {"necrosis": 1, "oedema": 2, "enhancing": 4}


def demo_subject_ids(dataset: str, n: int) -> list[str]:
    """`n` deterministic subject ids shaped like the dataset's real ones (e.g. IXI900-Demo-1000)."""
    if dataset not in _ID_FORMATS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(_ID_FORMATS)}")
    fmt, capacity = _ID_FORMATS[dataset]
    if not 0 <= n <= capacity:
        raise ValueError(f"the demo id pattern of {dataset} holds at most {capacity} subjects, asked for {n}")
    return [fmt(i) for i in range(n)]


def subject_seed(seed: int, dataset: str, subject: str) -> int:
    """A stable per-subject seed: adding subjects never changes the existing ones."""
    return zlib.crc32(f"{seed}/{dataset}/{subject}".encode())


# --------------------------------------------------------------------------------------------
# Template space
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """MNI152 arrays on a `spacing` mm grid (read-only, cached per spacing)."""

    spacing: float
    affine: np.ndarray  # voxel -> MNI world (mm)
    t1: np.ndarray  # MNI152 T1 template, zero outside the brain
    brain: np.ndarray  # bool brain mask (nilearn's load_mni152_brain_mask: template > 0.2 at 1 mm)
    gm: np.ndarray  # tissue fractions in [0, 1]; csf + gm + wm = 1 inside the brain
    wm: np.ndarray
    csf: np.ndarray
    depth_mm: np.ndarray  # distance to the outside of the brain (0 outside)
    outside_mm: np.ndarray  # distance to the brain for voxels outside it (0 inside)
    ventricles: np.ndarray  # bool: deep, CSF-dominated voxels (lateral ventricles mostly)
    ventricle_dist_mm: np.ndarray  # distance to the ventricles

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.brain.shape

    def world(self) -> np.ndarray:
        """World coordinates (mm) of every voxel, [3, X, Y, Z]."""
        idx = np.indices(self.shape, dtype=np.float32)
        a = self.affine.astype(np.float32)
        return np.einsum("ij,jxyz->ixyz", a[:3, :3], idx) + a[:3, 3, None, None, None]


def _resample_to_spacing(data: np.ndarray, spacing: float) -> np.ndarray:
    """1 mm MNI array -> grid of `spacing` mm with the same first voxel (as nilearn's resolution=2).

    A Gaussian pre-filter stands in for the larger voxels' partial-volume averaging.
    """
    if spacing == 1.0:
        return data.astype(np.float32)
    shape = tuple(int(np.floor((n - 1) / spacing)) + 1 for n in data.shape)
    smooth = ndimage.gaussian_filter(data.astype(np.float32), sigma=0.5 * np.sqrt(max(spacing**2 - 1.0, 0.0)))
    return ndimage.affine_transform(smooth, np.full(3, spacing), output_shape=shape, order=1)


@functools.lru_cache(maxsize=4)
def load_template(spacing: float = 2.0) -> Template:
    """The MNI152 template, tissue maps and derived distance maps on a `spacing` mm grid.

    Read from nilearn's packaged files (no network); computed once per process and spacing.
    """
    try:
        from nilearn import datasets as nds
    except ImportError as exc:  # nilearn is an optional dependency (extra "demo")
        raise ImportError("the demo needs nilearn: pip install 'patch2loc[demo]'") from exc
    if not 0.5 <= spacing <= 8.0:
        raise ValueError(f"spacing must be between 0.5 and 8 mm, got {spacing}")
    t1_img = nds.load_mni152_template(resolution=1)
    affine = np.array(t1_img.affine, dtype=np.float64)
    t1_1mm = np.asarray(t1_img.dataobj)
    t1 = _resample_to_spacing(t1_1mm, spacing)
    # nilearn's brain mask (template > 0.2) at 1 mm, resampled as a volume fraction: thresholding
    # the smoothed template instead would inflate the brain on coarse grids.
    brain = _resample_to_spacing((t1_1mm > 0.2).astype(np.float32), spacing) >= 0.5
    gm = _resample_to_spacing(np.asarray(nds.load_mni152_gm_template(resolution=1).dataobj), spacing)
    wm = _resample_to_spacing(np.asarray(nds.load_mni152_wm_template(resolution=1).dataobj), spacing)
    affine[:3, :3] *= spacing

    gm = np.where(brain, np.clip(gm, 0.0, 1.0), 0.0)
    wm = np.where(brain, np.clip(wm, 0.0, 1.0), 0.0)
    over = np.maximum(gm + wm, 1.0)  # probabilities may sum above 1 after resampling
    gm, wm = gm / over, wm / over
    csf = np.where(brain, 1.0 - gm - wm, 0.0)
    t1 = np.where(brain, t1, 0.0)

    depth = ndimage.distance_transform_edt(brain) * spacing
    outside = ndimage.distance_transform_edt(~brain) * spacing
    # Lateral ventricles: CSF-dominated voxels well inside the brain (sulcal CSF is shallow).
    ventricles = (csf > 0.6) & (depth > 18.0)
    ventricles = ndimage.binary_opening(ventricles) if ventricles.sum() > 50 else ventricles
    vdist = ndimage.distance_transform_edt(~ventricles) * spacing
    arrays = [t1, brain, gm, wm, csf, depth, outside, ventricles, vdist]
    arrays = [np.ascontiguousarray(a.astype(np.float32) if a.dtype != bool else a) for a in arrays]
    for a in arrays:
        a.setflags(write=False)
    t1, brain, gm, wm, csf, depth, outside, ventricles, vdist = arrays
    affine.setflags(write=False)
    return Template(float(spacing), affine, t1, brain, gm, wm, csf, depth, outside, ventricles, vdist)


def make_atlas(out_image: str | Path, out_mask: str | Path, spacing: float = 2.0) -> tuple[Path, Path]:
    """Write the demo's registration target: the skull-stripped MNI152 T1 and its brain mask.

    It stands in for SRI24's `T1_brain` (which cannot be downloaded here) at `spacing` mm.
    """
    tpl = load_template(spacing)
    image = np.where(tpl.brain, tpl.t1, 0.0).astype(np.float32)
    save_volume(image, out_image, affine=np.array(tpl.affine))
    save_volume(tpl.brain.astype(np.uint8), out_mask, affine=np.array(tpl.affine))
    return Path(out_image), Path(out_mask)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox, mode="wrap")
    return field / max(float(field.std()), 1e-6)


def _upsampling_weights(n_fine: int, n_coarse: int) -> np.ndarray:
    """[n_fine, n_coarse] cubic-spline interpolation weights, corners aligned (1D)."""
    coords = np.linspace(0, n_coarse - 1, n_fine)[None, :]
    eye = np.eye(n_coarse)
    return np.stack([ndimage.map_coordinates(e, coords, order=3, mode="nearest") for e in eye], axis=1)


def _coarse_field(rng: np.random.Generator, shape: tuple[int, int, int], spacing: float,
                  n_fields: int = 1) -> np.ndarray:
    """Smooth random fields [n, X, Y, Z]: unit normals on a CONTROL_SPACING_MM grid, upsampled.

    The upsampling is separable (one small matrix per axis), so it costs little at any size.
    """
    coarse = tuple(max(2, int(round(n * spacing / CONTROL_SPACING_MM)) + 2) for n in shape)
    values = rng.standard_normal((n_fields, *coarse))
    wx, wy, wz = (_upsampling_weights(n, c) for n, c in zip(shape, coarse))
    out = np.einsum("ia,nabc->nibc", wx, values)
    out = np.einsum("jb,nibc->nijc", wy, out)
    out = np.einsum("kc,nijc->nijk", wz.astype(np.float32), out.astype(np.float32))
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------------
# Lesions, drawn in template space as (labels, tissue composition)
# --------------------------------------------------------------------------------------------

@dataclass
class LesionMap:
    """Integer labels on the template grid and, per label, the tissue mixture it is rendered as."""

    labels: np.ndarray  # uint8, 0 = no lesion
    # per-voxel composition (csf, gm, wm) fractions for the lesion voxels, [3, X, Y, Z]
    composition: np.ndarray


def _mixture(csf: float | np.ndarray, gm: float | np.ndarray) -> tuple:
    """A lesion composition: fractions of CSF and GM (the rest WM), clipped to [0, 1]."""
    csf = np.clip(csf, 0.0, 1.0)
    gm = np.clip(gm, 0.0, 1.0 - csf)
    return csf, gm, 1.0 - csf - gm


def _random_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """Rotation matrix from three Euler angles, each uniform in +-max_deg."""
    ax, ay, az = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _pick(rng: np.random.Generator, candidates: np.ndarray, world: np.ndarray) -> np.ndarray:
    """World coordinates (mm) of one voxel drawn uniformly from a boolean candidate mask."""
    idx = np.flatnonzero(candidates)
    if idx.size == 0:
        raise RuntimeError("no candidate voxel for a lesion; the spacing is too coarse")
    i = np.unravel_index(rng.choice(idx), candidates.shape)
    return world[(slice(None), *i)]


def _tumour(tpl: Template, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """BraTS-like glioma: irregular blob (2-5 cm) with necrotic core, enhancing rim and oedema."""
    world = tpl.world()
    radius = rng.uniform(10.0, 25.0)
    cerebrum = world[2] > -5.0
    centre = _pick(rng, (tpl.depth_mm > 0.7 * radius + 5.0) & (tpl.wm > 0.5) & cerebrum, world)
    axes = _random_rotation(rng, 90.0) * rng.uniform(0.8, 1.25, 3)  # anisotropic, random orientation
    rel = np.einsum("ij,jxyz->ixyz", axes.T.astype(np.float32), world - centre[:, None, None, None])
    wobble = _smooth_noise(rng, tpl.shape, sigma_vox=max(1.0, 0.35 * radius / tpl.spacing))
    d = np.sqrt((rel**2).sum(0)) / radius + 0.18 * wobble  # < 1: tumour core
    inside = tpl.brain & (tpl.csf < 0.7)
    oedema_reach = rng.uniform(0.5, 1.0)
    labels = np.zeros(tpl.shape, np.uint8)
    labels[inside & (d < 1.0 + oedema_reach * (0.4 + tpl.wm))] = BRATS_LABELS["oedema"]
    labels[inside & (d < 1.0)] = BRATS_LABELS["enhancing"]
    labels[inside & (d < rng.uniform(0.5, 0.7))] = BRATS_LABELS["necrosis"]

    hetero = 0.12 * _smooth_noise(rng, tpl.shape, sigma_vox=1.0)
    csf = np.zeros(tpl.shape, np.float32)
    gm = np.zeros(tpl.shape, np.float32)
    for label, (c, g) in {"necrosis": (0.6, 0.4), "enhancing": (0.0, 0.8), "oedema": (0.2, 0.8)}.items():
        sel = labels == BRATS_LABELS[label]
        csf[sel] = c + hetero[sel]
        gm[sel] = g - hetero[sel]
    return labels, np.stack(_mixture(csf, gm)).astype(np.float32)


def _ms(tpl: Template, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MSLUB-like MS: several small ovoid periventricular white-matter lesions (3-10 mm)."""
    world = tpl.world()
    periventricular = (tpl.wm > 0.6) & (tpl.ventricle_dist_mm > 1.5) & (tpl.ventricle_dist_mm < 10.0)
    deep_wm = (tpl.wm > 0.8) & (tpl.depth_mm > 8.0)
    labels = np.zeros(tpl.shape, np.uint8)
    csf = np.zeros(tpl.shape, np.float32)
    gm = np.zeros(tpl.shape, np.float32)
    for _ in range(int(rng.integers(6, 13))):
        centre = _pick(rng, periventricular if rng.random() < 0.75 else deep_wm, world)
        rot = _random_rotation(rng, 90.0)
        semi = rng.uniform(2.0, 5.0, 3)  # semi-axes: 4-10 mm diameters
        semi = np.maximum(semi, 0.6 * tpl.spacing)  # stay visible on coarse grids
        rel = np.einsum("ij,jxyz->ixyz", rot.T.astype(np.float32), world - centre[:, None, None, None])
        sel = (((rel / semi[:, None, None, None].astype(np.float32)) ** 2).sum(0) <= 1.0) & tpl.brain
        labels[sel] = 1
        c = rng.uniform(0.25, 0.55)  # between GM and CSF in T2, between CSF and GM in T1
        csf[sel], gm[sel] = c, 1.0 - c
    return labels, np.stack(_mixture(csf, gm)).astype(np.float32)


def _stroke(tpl: Template, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """ATLAS-like chronic stroke: a cortical-subcortical wedge of a vascular territory, CSF-like."""
    world = tpl.world()
    side = rng.choice([-1.0, 1.0])
    centre = np.array([(world[i][tpl.brain]).mean() for i in range(3)], dtype=np.float32)
    apex = centre + np.array([side * rng.uniform(12, 22), rng.uniform(-15, 15), rng.uniform(0, 15)], np.float32)
    direction = np.array([side, rng.uniform(-0.7, 0.7), rng.uniform(-0.2, 0.6)], np.float32)
    direction /= np.linalg.norm(direction)
    rel = world - apex[:, None, None, None]
    dist = np.sqrt((rel**2).sum(0)) + 1e-6
    cos_angle = np.einsum("i,ixyz->xyz", direction, rel) / dist
    half_angle = np.deg2rad(rng.uniform(15.0, 32.0))
    wobble = _smooth_noise(rng, tpl.shape, sigma_vox=max(1.0, 6.0 / tpl.spacing))
    angle = np.arccos(np.clip(cos_angle, -1, 1)) * (1.0 + 0.2 * wobble)
    reach = rng.uniform(35.0, 90.0)  # short reach: subcortical only; long: up to the cortex
    sel = tpl.brain & (angle < half_angle) & (dist > rng.uniform(3.0, 15.0)) & (dist < reach)
    labels = sel.astype(np.uint8)
    # Mostly CSF (tissue loss) with a gliotic, GM-like share that varies in space.
    c = np.clip(rng.uniform(0.7, 0.9) + 0.1 * _smooth_noise(rng, tpl.shape, 1.0), 0.5, 1.0)
    csf = np.where(sel, c, 0.0)
    gm = np.where(sel, 1.0 - c, 0.0)
    return labels, np.stack(_mixture(csf, gm)).astype(np.float32)


def _wmh(tpl: Template, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """WMH-like small-vessel disease: confluent periventricular caps, T1-hypointense (GM-like).

    One small lacune is labelled 2 ("other pathology", as in the WMH challenge).
    """
    world = tpl.world()
    vcentre = np.array([(world[i][tpl.ventricles]).mean() for i in range(3)], dtype=np.float32)
    # Caps: thicker in front of and behind the ventricles (frontal and occipital horns).
    cap = np.clip(np.abs(world[1] - vcentre[1]) / 30.0, 0.0, 1.0)
    reach = rng.uniform(3.0, 9.0) * (0.5 + 0.9 * cap) * (1.0 + 0.35 * _smooth_noise(rng, tpl.shape, 2.0))
    sel = tpl.brain & ~tpl.ventricles & (tpl.wm > 0.3) & (tpl.ventricle_dist_mm <= reach)
    labels = sel.astype(np.uint8)
    c = np.clip(rng.uniform(0.2, 0.4) + 0.1 * _smooth_noise(rng, tpl.shape, 1.0), 0.05, 0.6)
    csf = np.where(sel, c, 0.0)
    gm = np.where(sel, 1.0 - c, 0.0)
    # A lacune in deep white matter, away from the caps.
    centre = _pick(rng, (tpl.wm > 0.8) & (tpl.ventricle_dist_mm > 15.0) & (tpl.depth_mm > 10.0), world)
    lacune = (((world - centre[:, None, None, None]) ** 2).sum(0) <= max(2.5, 0.8 * tpl.spacing) ** 2)
    lacune &= tpl.brain
    labels[lacune] = 2
    csf[lacune], gm[lacune] = 0.85, 0.15
    return labels, np.stack(_mixture(csf, gm)).astype(np.float32)


_LESION_MAKERS = {"BraTS21": _tumour, "MSLUB": _ms, "ATLAS_v2": _stroke, "WMH": _wmh}


def draw_lesions(dataset: str, spacing: float, seed: int) -> LesionMap:
    """The lesion labels and compositions of a `dataset` subject, on the template grid."""
    tpl = load_template(spacing)
    labels, comp = _LESION_MAKERS[dataset](tpl, np.random.default_rng([seed, 2]))
    return LesionMap(labels, comp)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

@dataclass
class Rendered:
    """A synthetic scan in native space."""

    image: np.ndarray  # float32
    brain: np.ndarray  # bool brain mask (the skull-strip stand-in)
    seg: np.ndarray | None  # uint8 lesion labels (None without lesion)
    affine: np.ndarray  # voxel -> world (mm), axis-aligned scanner grid
    pose: np.ndarray  # 4x4 world -> world: where the template brain was moved to (before deformation)


def _tissue_image(tpl: Template, means: dict[str, float], texture: np.ndarray, skull: bool,
                  lesions: LesionMap | None) -> np.ndarray:
    """Template-space image: tissue fractions times means, times texture."""
    csf, gm, wm = tpl.csf, tpl.gm, tpl.wm
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


def _pose_matrix(tpl: Template, rng: np.random.Generator) -> np.ndarray:
    """World -> world 4x4 pose of the subject: rotation and scaling about the brain centre, shift."""
    world = tpl.world()
    centre = np.array([(world[i][tpl.brain]).mean() for i in range(3)])
    linear = _random_rotation(rng, MAX_ROTATION_DEG) @ np.diag(rng.uniform(1 - MAX_SCALING, 1 + MAX_SCALING, 3))
    shift = rng.uniform(-MAX_TRANSLATION_MM, MAX_TRANSLATION_MM, 3)
    pose = np.eye(4)
    pose[:3, :3] = linear
    pose[:3, 3] = centre + shift - linear @ centre
    return pose


def render_scan(dataset: str, modality: str, seed: int, spacing: float = 2.0, *,
                lesion: bool = True, noise: bool = True, skull: bool | None = None) -> Rendered:
    """Render one synthetic scan in native space (no file written).

    `seed` fixes the subject: the same (seed, modality) gives identical arrays; T1 and T2 with
    one seed are the same brain and lesion (with their own pose, contrast, bias and noise). `lesion=False` renders the
    same subject healthy; `noise=False` leaves out the Rician noise (for tests). `skull` defaults
    to a skull/scalp shell except for BraTS21, which comes skull-stripped like the real data.
    """
    if dataset not in MODALITIES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MODALITIES)}")
    if modality not in CONTRASTS:
        raise ValueError(f"unknown modality {modality!r}; the demo makes {CONTRASTS}")
    stripped = dataset == "BraTS21"
    skull = (not stripped) if skull is None else skull
    tpl = load_template(spacing)
    anatomy = np.random.default_rng([seed, 1])
    scan = np.random.default_rng([seed, 3, zlib.crc32(modality.encode())])

    # Scan contrast: per-tissue jitter, then an overall gain (arbitrary units).
    means = {k: v * (1.0 + scan.uniform(-CONTRAST_JITTER, CONTRAST_JITTER)) for k, v in TISSUE_MEANS[modality].items()}
    gain = scan.uniform(*GAIN_RANGE)
    means = {k: v * gain for k, v in means.items()}

    texture = 1.0 + TEXTURE_STD * _smooth_noise(anatomy, tpl.shape, sigma_vox=1.0)
    lesions = draw_lesions(dataset, spacing, seed) if (lesion and dataset in LESION_DATASETS) else None
    image_t = _tissue_image(tpl, means, texture, skull, lesions)

    # Native grid: axis-aligned, the template's field of view plus a margin.
    pad = int(np.ceil(FOV_PAD_MM / spacing))
    shape = tuple(n + 2 * pad for n in tpl.shape)
    native_affine = np.array(tpl.affine, dtype=np.float64)
    native_affine[:3, 3] -= spacing * pad
    pose = _pose_matrix(tpl, scan)
    # native voxel -> world -> (undo pose) template world -> template voxel
    to_template = np.linalg.inv(np.array(tpl.affine)) @ np.linalg.inv(pose) @ native_affine
    idx = np.indices(shape, dtype=np.float32)
    coords = np.einsum("ij,jxyz->ixyz", to_template[:3, :3].astype(np.float32), idx)
    coords += to_template[:3, 3].astype(np.float32)[:, None, None, None]
    del idx
    # Anatomical deformation, defined on the template grid (the same brain in T1 and T2).
    displacement = _coarse_field(anatomy, tpl.shape, spacing, n_fields=3) * (DEFORMATION_STD_MM / spacing)
    coords += np.stack([ndimage.map_coordinates(u, coords, order=1, mode="nearest") for u in displacement])

    image = ndimage.map_coordinates(image_t, coords, order=1, mode="constant", cval=0.0)
    brain = ndimage.map_coordinates(tpl.brain.astype(np.uint8), coords, order=0, mode="constant", cval=0) > 0
    seg = None
    if lesions is not None:
        seg = ndimage.map_coordinates(lesions.labels, coords, order=0, mode="constant", cval=0).astype(np.uint8)
    del coords

    bias = np.exp(scan.uniform(0.3, 1.0) * BIAS_MAX * np.tanh(_coarse_field(scan, shape, spacing)[0]))
    image *= bias
    if noise:
        sigma = NOISE_STD * max(means["wm"], means["csf"])
        real = image + sigma * scan.standard_normal(shape, dtype=np.float32)
        imag = sigma * scan.standard_normal(shape, dtype=np.float32)
        image = np.sqrt(real**2 + imag**2)
    if stripped:
        image = np.where(brain, image, 0.0)
    return Rendered(image.astype(np.float32), brain, seg, native_affine, pose)


def synthesize_scan(dataset: str, modality: str, subject: str, raw_root: str | Path, seed: int,
                    spacing: float = 2.0, *, lesion: bool = True, noise: bool = True) -> RawScan:
    """Render one subject and write it to its dataset's raw layout under `raw_root`.

    Writes the image, the brain mask where the layout has one (BraTS21 has none: its image is
    zero outside the brain) and, for lesion datasets, the lesion labels. Returns the paths.
    """
    paths = raw_paths(dataset, raw_root, subject, modality)
    scan = render_scan(dataset, modality, seed, spacing, lesion=lesion, noise=noise)
    # Stored as int16, like most raw scanner exports (and half the size of float32).
    save_volume(np.clip(np.rint(scan.image), 0, np.iinfo(np.int16).max).astype(np.int16), paths.image,
                affine=scan.affine)
    if paths.mask is not None:
        save_volume(scan.brain.astype(np.uint8), paths.mask, affine=scan.affine)
    if paths.seg is not None:
        seg = scan.seg if scan.seg is not None else np.zeros(scan.image.shape, np.uint8)
        save_volume(seg, paths.seg, affine=scan.affine)
    return paths


def synthesize_dataset(dataset: str, subjects: list[str], raw_root: str | Path, seed: int,
                       spacing: float = 2.0, modalities: tuple[str, ...] | list[str] | None = None) -> list[RawScan]:
    """Write every subject of a demo dataset (IXI: T1 and T2; lesion sets: their modality).

    Each subject's seed comes from (seed, dataset, subject), so the modalities of one subject
    share anatomy and adding subjects leaves the existing ones unchanged.
    """
    if dataset not in MODALITIES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(MODALITIES)}")
    modalities = tuple(modalities) if modalities is not None else MODALITIES[dataset]
    scans = []
    for subject in subjects:
        s = subject_seed(seed, dataset, subject)
        for modality in modalities:
            scans.append(synthesize_scan(dataset, modality, subject, raw_root, s, spacing))
    return scans
