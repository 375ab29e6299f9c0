"""Lesions, drawn in template space as (labels, tissue composition): tumour, MS, stroke, WMH.

With the anatomical lesion model (`draw_lesions(..., model="anatomical")`) a lesion also moves the
brain around it, as real ones do (docs/dae-gap.md has the references): a tumour pushes the
surrounding tissue away (mass effect), a chronic stroke pulls it in (tissue loss, with ex-vacuo
widening of the ventricle beside it). MS and WMH lesions have no appreciable mass effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from patch2loc.synth.fields import random_rotation, smooth_noise
from patch2loc.synth.template import Template, load_template

BRATS_LABELS = {"necrosis": 1, "oedema": 2, "enhancing": 4}


@dataclass
class LesionMap:
    """Integer labels on the template grid and, per label, the tissue mixture it is rendered as."""

    labels: np.ndarray  # uint8, 0 = no lesion
    # per-voxel composition (csf, gm, wm) fractions for the lesion voxels, [3, X, Y, Z]
    composition: np.ndarray
    # anatomical model only: where each voxel's healthy tissue comes from, as an offset in template
    # voxels [3, X, Y, Z] (the diseased brain at x shows the healthy brain at x + displacement)
    displacement: np.ndarray | None = None


LESION_MODELS = ("intensity", "anatomical")
DECAY_MM = 20.0  # the displacement fades with distance from the lesion's border over this length
SURFACE_MM = 10.0  # and vanishes at the brain's surface: the skull does not move


def radial_displacement(tpl: Template, centre: np.ndarray, radius: float, share: float) -> np.ndarray:
    """A radial field about `centre` (world mm) in template voxels: share > 0 pushes tissue away (a
    tumour displacing `share` of a sphere of `radius`), share < 0 pulls it in (lost tissue). A voxel
    at distance d shows the healthy tissue from distance (d^3 - share R^3 w(d))^(1/3), with
    w = exp(-(d - R)+ / DECAY_MM) * min(1, depth / SURFACE_MM)."""
    rel = tpl.world() - centre.astype(np.float32)[:, None, None, None]
    d = np.sqrt((rel**2).sum(0)) + 1e-6
    w = np.exp(-np.maximum(d - radius, 0.0) / DECAY_MM) * np.clip(tpl.depth_mm / SURFACE_MM, 0.0, 1.0)
    source = np.cbrt(np.maximum(d**3 - share * radius**3 * w, 0.0))
    offset_mm = np.where(w > 0, source / d - 1.0, 0.0) * rel  # exactly 0 where nothing moves (cbrt(d^3) != d)
    to_voxels = np.linalg.inv(np.array(tpl.affine)[:3, :3]).astype(np.float32)
    return np.einsum("ij,jxyz->ixyz", to_voxels, offset_mm).astype(np.float32)


def _mass_effect(tpl: Template, lesion: np.ndarray, rng: np.random.Generator, pushes: bool) -> np.ndarray:
    """The displacement of a tumour (pushes: share 0.5-0.9 of its core's volume displaces tissue) or
    of a chronic infarct (share 0.3-0.6 of its volume is lost tissue), centred on the lesion's centroid."""
    world = tpl.world()
    centre = np.array([world[i][lesion].mean() for i in range(3)], dtype=np.float32)
    radius = float(np.cbrt(3.0 * lesion.sum() * tpl.spacing**3 / (4.0 * np.pi)))
    share = rng.uniform(0.5, 0.9) if pushes else -rng.uniform(0.3, 0.6)
    return radial_displacement(tpl, centre, radius, share)


def _mixture(csf: float | np.ndarray, gm: float | np.ndarray) -> tuple:
    """A lesion composition: fractions of CSF and GM (the rest WM), clipped to [0, 1]."""
    csf = np.clip(csf, 0.0, 1.0)
    gm = np.clip(gm, 0.0, 1.0 - csf)
    return csf, gm, 1.0 - csf - gm


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
    axes = random_rotation(rng, 90.0) * rng.uniform(0.8, 1.25, 3)  # anisotropic, random orientation
    rel = np.einsum("ij,jxyz->ixyz", axes.T.astype(np.float32), world - centre[:, None, None, None])
    wobble = smooth_noise(rng, tpl.shape, sigma_vox=max(1.0, 0.35 * radius / tpl.spacing))
    d = np.sqrt((rel**2).sum(0)) / radius + 0.18 * wobble  # < 1: tumour core
    inside = tpl.brain & (tpl.csf < 0.7)
    oedema_reach = rng.uniform(0.5, 1.0)
    labels = np.zeros(tpl.shape, np.uint8)
    labels[inside & (d < 1.0 + oedema_reach * (0.4 + tpl.wm))] = BRATS_LABELS["oedema"]
    labels[inside & (d < 1.0)] = BRATS_LABELS["enhancing"]
    labels[inside & (d < rng.uniform(0.5, 0.7))] = BRATS_LABELS["necrosis"]

    hetero = 0.12 * smooth_noise(rng, tpl.shape, sigma_vox=1.0)
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
        rot = random_rotation(rng, 90.0)
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
    wobble = smooth_noise(rng, tpl.shape, sigma_vox=max(1.0, 6.0 / tpl.spacing))
    angle = np.arccos(np.clip(cos_angle, -1, 1)) * (1.0 + 0.2 * wobble)
    reach = rng.uniform(35.0, 90.0)  # short reach: subcortical only; long: up to the cortex
    sel = tpl.brain & (angle < half_angle) & (dist > rng.uniform(3.0, 15.0)) & (dist < reach)
    labels = sel.astype(np.uint8)
    # Mostly CSF (tissue loss) with a gliotic, GM-like share that varies in space.
    c = np.clip(rng.uniform(0.7, 0.9) + 0.1 * smooth_noise(rng, tpl.shape, 1.0), 0.5, 1.0)
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
    reach = rng.uniform(3.0, 9.0) * (0.5 + 0.9 * cap) * (1.0 + 0.35 * smooth_noise(rng, tpl.shape, 2.0))
    sel = tpl.brain & ~tpl.ventricles & (tpl.wm > 0.3) & (tpl.ventricle_dist_mm <= reach)
    labels = sel.astype(np.uint8)
    c = np.clip(rng.uniform(0.2, 0.4) + 0.1 * smooth_noise(rng, tpl.shape, 1.0), 0.05, 0.6)
    csf = np.where(sel, c, 0.0)
    gm = np.where(sel, 1.0 - c, 0.0)
    # A lacune in deep white matter, away from the caps.
    centre = _pick(rng, (tpl.wm > 0.8) & (tpl.ventricle_dist_mm > 15.0) & (tpl.depth_mm > 10.0), world)
    lacune = ((world - centre[:, None, None, None]) ** 2).sum(0) <= max(2.5, 0.8 * tpl.spacing) ** 2
    lacune &= tpl.brain
    labels[lacune] = 2
    csf[lacune], gm[lacune] = 0.85, 0.15
    return labels, np.stack(_mixture(csf, gm)).astype(np.float32)


_LESION_MAKERS = {"BraTS21": _tumour, "MSLUB": _ms, "ATLAS_v2": _stroke, "WMH": _wmh}


_MASS_EFFECT = {"BraTS21": True, "ATLAS_v2": False}  # tumours push, strokes pull; MS and WMH: none


def draw_lesions(
    dataset: str, spacing: float, seed: int, model: str = "intensity", tpl: Template | None = None
) -> LesionMap:
    """The lesion labels and compositions of a `dataset` subject, on the template grid; with
    model="anatomical", also the displacement of the tissue around a tumour or stroke (the labels
    and compositions are the same as the intensity model's: its random draws come after theirs).
    `tpl`: the subject's own anatomy (`variation.subject_template`; default: the MNI152 template)."""
    if model not in LESION_MODELS:
        raise ValueError(f"lesion model must be one of {LESION_MODELS}, got {model!r}")
    tpl = load_template(spacing) if tpl is None else tpl
    rng = np.random.default_rng([seed, 2])
    labels, comp = _LESION_MAKERS[dataset](tpl, rng)
    displacement = None
    if model == "anatomical" and dataset in _MASS_EFFECT and labels.any():
        # a tumour's radius is its core's (necrosis and enhancing rim), a stroke's its whole volume's
        core = (
            np.isin(labels, (BRATS_LABELS["necrosis"], BRATS_LABELS["enhancing"]))
            if dataset == "BraTS21"
            else labels > 0
        )
        displacement = _mass_effect(tpl, core, rng, _MASS_EFFECT[dataset])
    return LesionMap(labels, comp, displacement)
