"""Normal anatomical variation of the demo's healthy brains (docs/demo.md (Anatomy)).

A subject's anatomy is its source anatomy (`anatomies`) seen through one diffeomorphism, the
composition of three maps (pulled back: the subject at x shows the source at T(x)):

1. a global scale about the brain's centre: brain volume spread, CV `BRAIN_VOLUME_CV`;
2. a random deformation, the exponential of a smooth stationary velocity field (scaling and
   squaring), large-scale (`LARGE_*`) plus local (`LOCAL_*`): it never folds;
3. CSF-space widening, also an exponentiated velocity field: the gradient of the smoothed
   ventricle (sulcal CSF) map, whose strength is solved so that the lateral-ventricle (sulcal CSF)
   volume grows by `VENTRICLE_RATE` (`SULCAL_RATE`) per year of age after `ONSET_AGE`, times a
   subject's own lognormal factor (`VENTRICLE_SD`, `SULCAL_SD`), in steps of a time-varying field.

Random streams: [seed, 5] for the anatomy's choice and this module's draws (the render's streams
1-3 are untouched, so the default demo is unchanged). The age is the subject's demo age
(`subjects.demo_age`, IXI's AGE column for IXI subjects).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from patch2loc.synth.fields import coarse_field
from patch2loc.synth.subjects import demo_age
from patch2loc.synth.template import Template, load_template, template_from_maps

VARIATIONS = ("none", "calibrated")
BRAIN_VOLUME_CV = 0.10  # whole-brain volume CV in healthy adults (Whitwell et al. 2001: 10.0 %)
CLIP_SD = 2.5  # draws beyond +-2.5 SD are clipped (the head must stay in the grid)
LARGE_STD_MM, LARGE_CONTROL_MM = 3.0, 40.0  # velocity std (mm) and control spacing (mm)
LOCAL_STD_MM, LOCAL_CONTROL_MM = 0.75, 15.0  # (4 mm and 1.5 mm at 12 mm made visibly unreal brains)
ONSET_AGE = 40.0  # CSF spaces widen after this age
VENTRICLE_RATE = 0.03  # lateral ventricle volume: +3 %/year (log-rate) after ONSET_AGE
VENTRICLE_SD = 0.25  # log-SD of a subject's ventricle volume at a given age (0.35: CV 62 %, above the 51 %)
SULCAL_RATE = 0.015  # sulcal CSF volume: +1.5 %/year after ONSET_AGE
SULCAL_SD = 0.10
MAX_STRENGTH = 3.0  # the strongest `strength` of `vary` that the tests check for folding


def _warp(field: np.ndarray, coords: np.ndarray, mode: str = "nearest") -> np.ndarray:
    """Each component of `field` [n, X, Y, Z] sampled (linearly) at `coords` [3, ...]."""
    return np.stack([ndimage.map_coordinates(f, coords, order=1, mode=mode) for f in field]).astype(np.float32)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Coordinates of outer(inner(x)), both maps given as coordinates [3, ...] on the grid. The outer
    map's displacement is sampled (clamped beyond the grid, where it stays smooth), not its
    coordinates: clamped coordinates would make a flat, non-invertible map outside the grid."""
    grid = np.indices(outer.shape[1:], dtype=np.float32)
    return inner + _warp(outer - grid, inner)


def exp_velocity(v: np.ndarray) -> np.ndarray:
    """Displacement u (voxels) of exp(v) by scaling and squaring: v / 2^n moves < 0.25 voxel, then
    n self-compositions u <- u + u(x + u). Each step is a diffeomorphism close to the identity, so
    their composition is one too (no folding)."""
    vmax = float(np.sqrt((v**2).sum(0)).max())
    n = max(0, int(np.ceil(np.log2(max(vmax, 1e-6) / 0.25))))
    u = (v / 2.0**n).astype(np.float32)
    grid = np.indices(v.shape[1:], dtype=np.float32)
    for _ in range(n):
        u = u + _warp(u, grid + u)
    return u


def jacobian_det(coords: np.ndarray) -> np.ndarray:
    """det of the Jacobian of the map x -> coords(x) (voxel units, central differences)."""
    j = np.stack([np.stack(np.gradient(c), 0) for c in coords], 0)  # [i, j, X, Y, Z] = d coords_i / d x_j
    return np.linalg.det(np.moveaxis(j, (0, 1), (-2, -1)))


@dataclass(frozen=True)
class Subject:
    """A varied anatomy and what it was drawn from (for docs/demo.md (Anatomy)'s table)."""

    template: Template
    anatomy: str
    age: float
    coords: np.ndarray  # [3, X, Y, Z]: the source voxel each subject voxel shows
    ventricle_ml: float  # lateral-ventricle CSF volume
    brain_ml: float  # GM + WM volume


def _csf_fields(vent: np.ndarray, sulc: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit-peak gradients [3, ...] of the smoothed ventricle and sulcal CSF maps."""
    grads = []
    for frac, sigma_mm in ((vent, 6.0), (sulc, 3.0)):
        g = np.stack(np.gradient(ndimage.gaussian_filter(frac.astype(np.float32), sigma_mm / spacing)))
        grads.append((g / max(float(np.sqrt((g**2).sum(0)).max()), 1e-9)).astype(np.float32))
    return grads[0], grads[1]


def _widening_step(maps0: np.ndarray, coords: np.ndarray, spacing: float, log_targets: np.ndarray) -> np.ndarray:
    """One widening step after `coords` (the pull-back so far): the composed coordinates whose
    ventricle and sulcal CSF volumes (`maps0`, [2, ...], sampled through them) are exp(log_targets)
    times the source's.

    v = c_v grad(ventricles) + c_s grad(sulci) of the CSF as widened so far: the pulled-back map
    samples from the CSF side, so the CSF spaces grow. (c_v, c_s), peak speeds in voxels, are
    solved by a secant iteration.
    """
    current = _warp(maps0, coords, mode="constant")
    gv, gs = _csf_fields(current[0], current[1], spacing)
    grid = np.indices(coords.shape[1:], dtype=np.float32)
    base = maps0.reshape(2, -1).sum(1).astype(np.float64)

    def residual(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        composed = _compose(coords, grid + exp_velocity(c[0] * gv + c[1] * gs))  # T(x) = T_prev(x + u(x))
        vols = _warp(maps0, composed, mode="constant").reshape(2, -1).sum(1).astype(np.float64)
        return np.log(vols / base) - log_targets, composed

    c0, r0 = np.zeros(2), np.log(current.reshape(2, -1).sum(1) / base) - log_targets
    c1 = np.clip(-4.0 * r0, -6.0, 6.0)
    r1, composed = residual(c1)
    for _ in range(4):
        if np.all(np.abs(r1) < 0.01):
            break
        step = c1 - c0
        slope = (r1 - r0) / np.where(np.abs(step) > 1e-6, step, 1.0)
        slope = np.where(np.abs(step) > 1e-6, np.maximum(slope, 1e-3), 0.2)  # the volume grows with c
        c0, r0, c1 = c1, r1, np.clip(c1 - r1 / slope, -12.0, 12.0)
        r1, composed = residual(c1)
    return composed


def _widening(tpl: Template, log_targets: np.ndarray, max_log_step: float = 0.5) -> np.ndarray:
    """Pull-back coordinates [3, ...] of the CSF widening, in steps of at most `max_log_step`.

    Each step's field comes from the CSF maps as widened so far (a time-varying velocity): one
    stationary field would drain every point towards the ventricles' centre and fold numerically
    when the ventricles must grow several-fold.
    """
    maps0 = np.stack([tpl.csf * tpl.ventricles, tpl.csf * ~tpl.ventricles]).astype(np.float32)
    coords = np.indices(tpl.shape, dtype=np.float32)
    steps = max(1, int(np.ceil(np.abs(log_targets).max() / max_log_step)))
    for k in range(1, steps + 1):
        coords = _widening_step(maps0, coords, tpl.spacing, log_targets * k / steps)
    return coords


def vary(tpl: Template, seed: int, age: float, strength: float = 1.0, draws: np.ndarray | None = None) -> Subject:
    """The subject `seed` of age `age` drawn from the source anatomy `tpl`. For tests of the
    strongest setting: `strength` scales the random deformation's velocities, `draws` replaces the
    subject's three standard-normal draws (brain volume, ventricle and sulcal factors)."""
    rng = np.random.default_rng([seed, 5, 1])
    z = rng.standard_normal(3)  # drawn either way: the velocity fields' draws come after
    z = np.clip(z if draws is None else np.asarray(draws, np.float64), -CLIP_SD, CLIP_SD)
    scale = float(np.exp(z[0] * BRAIN_VOLUME_CV / 3.0))  # linear factor of a lognormal volume factor
    years = max(age - ONSET_AGE, 0.0)
    log_targets = np.array([VENTRICLE_RATE * years + VENTRICLE_SD * z[1], SULCAL_RATE * years + SULCAL_SD * z[2]])
    vox = strength / tpl.spacing
    velocity = coarse_field(rng, tpl.shape, tpl.spacing, 3, LARGE_CONTROL_MM) * (LARGE_STD_MM * vox)
    velocity += coarse_field(rng, tpl.shape, tpl.spacing, 3, LOCAL_CONTROL_MM) * (LOCAL_STD_MM * vox)
    u_random = exp_velocity(velocity)
    widen = _widening(tpl, log_targets)

    grid = np.indices(tpl.shape, dtype=np.float32)
    centre = np.array([g[tpl.brain].mean() for g in grid], np.float32)[:, None, None, None]
    coords = centre + (grid - centre) / scale  # 1. scale about the centre
    coords = coords + _warp(u_random, coords)  # 2. random deformation
    coords = _compose(widen, coords)  # 3. CSF widening, in the source's space
    del grid
    t1, brain, gm, wm, vent = _warp(
        np.stack([tpl.t1, tpl.brain.astype(np.float32), tpl.gm, tpl.wm, tpl.csf * tpl.ventricles]),
        coords,
        mode="constant",
    )
    voxel_ml = tpl.spacing**3 / 1000.0
    subject = template_from_maps(tpl.spacing, np.array(tpl.affine), t1, brain >= 0.5, gm, wm)
    brain_ml = float((subject.gm + subject.wm).sum() * voxel_ml)
    return Subject(subject, "", float(age), coords, float(vent.sum() * voxel_ml), brain_ml)


def choose_anatomy(seed: int, anatomies: tuple[str, ...]) -> str:
    """The subject's source anatomy: uniform over `anatomies` (no draw when there is one)."""
    if len(anatomies) == 1:
        return anatomies[0]
    return anatomies[int(np.random.default_rng([seed, 5, 0]).integers(len(anatomies)))]


@functools.lru_cache(maxsize=2)  # T1 and T2 of one subject are rendered one after the other
def subject_template(
    spacing: float, seed: int, anatomies: tuple[str, ...] = ("mni152",), variation: str = "none"
) -> Template:
    """The anatomy the subject `seed` is rendered from: the MNI152 template itself by default."""
    if variation not in VARIATIONS:
        raise ValueError(f"demo.variation must be one of {VARIATIONS}, got {variation!r}")
    if not anatomies:
        raise ValueError("demo.anatomies is empty: name at least one anatomy (e.g. [mni152])")
    tpl = load_template(spacing, choose_anatomy(seed, tuple(anatomies)))
    if variation == "none":
        return tpl
    return vary(tpl, seed, demo_age(seed)).template


def spread(n: int, spacing: float, anatomies: tuple[str, ...], seed: int = 7) -> list[dict]:
    """Per-subject measures of `n` calibrated demo subjects (the IXI demo ids' seeds and ages), for
    docs/demo.md (Anatomy): source, age, lateral-ventricle and brain volume (ml), Jacobian range."""
    from patch2loc.synth.subjects import demo_subject_ids, subject_seed

    rows = []
    for subject in demo_subject_ids("IXI", n):
        s = subject_seed(seed, "IXI", subject)
        name = choose_anatomy(s, anatomies)
        drawn = vary(load_template(spacing, name), s, demo_age(s))
        jac = jacobian_det(drawn.coords)[1:-1, 1:-1, 1:-1]
        brain = drawn.template.brain[1:-1, 1:-1, 1:-1]
        rows.append(
            {"anatomy": name, "age": round(drawn.age, 1), "ventricle_ml": drawn.ventricle_ml,
             "brain_ml": drawn.brain_ml, "jac_min": float(jac[brain].min()), "jac_max": float(jac[brain].max())}
        )  # fmt: skip
    return rows
