"""Random building blocks: smooth noise, smooth fields on a control-point grid, random rotations."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CONTROL_SPACING_MM = 40.0  # control-point spacing of the deformation and the bias field


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma_vox, mode="wrap")
    return field / max(float(field.std()), 1e-6)


def _upsampling_weights(n_fine: int, n_coarse: int) -> np.ndarray:
    """[n_fine, n_coarse] cubic-spline interpolation weights, corners aligned (1D)."""
    coords = np.linspace(0, n_coarse - 1, n_fine)[None, :]
    eye = np.eye(n_coarse)
    return np.stack([ndimage.map_coordinates(e, coords, order=3, mode="nearest") for e in eye], axis=1)


def coarse_field(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    spacing: float,
    n_fields: int = 1,
    control_mm: float = CONTROL_SPACING_MM,
) -> np.ndarray:
    """Smooth random fields [n, X, Y, Z]: unit normals on a `control_mm` grid, upsampled.

    The upsampling is separable (one small matrix per axis), so it costs little at any size.
    """
    coarse = tuple(max(2, int(round(n * spacing / control_mm)) + 2) for n in shape)
    values = rng.standard_normal((n_fields, *coarse))
    wx, wy, wz = (_upsampling_weights(n, c) for n, c in zip(shape, coarse))
    out = np.einsum("ia,nabc->nibc", wx, values)
    out = np.einsum("jb,nibc->nijc", wy, out)
    out = np.einsum("kc,nijc->nijk", wz.astype(np.float32), out.astype(np.float32))
    return out.astype(np.float32)


def random_rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    """Rotation matrix from three Euler angles, each uniform in +-max_deg."""
    ax, ay, az = np.deg2rad(rng.uniform(-max_deg, max_deg, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx
