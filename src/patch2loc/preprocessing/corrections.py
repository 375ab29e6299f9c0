"""The two corrections fitted to each scan: the affine registration to the atlas (with the QC
summary of its linear part) and the N4 bias-field correction. preprocess_scan (pipeline.py) chains
them with the skull strip, resampling and cropping."""

from __future__ import annotations

import contextlib

import numpy as np
import SimpleITK as sitk

from patch2loc.errors import InputError


@contextlib.contextmanager
def one_itk_thread():
    """SimpleITK on one thread inside the block, as the workflow's rules run it: the registration
    metric and N4 sum in thread order, so with more threads the same image comes out a little
    differently from call to call; with one, the same bytes on a machine."""
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def register_affine(fixed: sitk.Image, moving: sitk.Image, cfg) -> tuple[sitk.Transform, dict]:
    """Affine transform mapping fixed (atlas) points to moving (subject) points, and its QC.
    `cfg`: a pipeline.PreprocessConfig (its reg_* settings and seed)."""
    initial = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.AffineTransform(3), sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=cfg.reg_bins)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(cfg.reg_sampling, cfg.seed)
    reg.SetInterpolator(sitk.sitkLinear)
    # Regular-step descent halves its step when the direction flips; plain gradient descent with
    # an estimated learning rate stalled after ~10 iterations in our tests (synthetic phantoms).
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=cfg.reg_step, minStep=1e-3, numberOfIterations=cfg.reg_iterations, relaxationFactor=0.5
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    spacing = min(fixed.GetSpacing())
    reg.SetShrinkFactorsPerLevel([max(1, int(round(f / spacing))) for f in cfg.reg_shrink])
    reg.SetSmoothingSigmasPerLevel(list(cfg.reg_smoothing))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(initial, inPlace=False)
    try:
        transform = reg.Execute(fixed, moving)
    except RuntimeError as exc:
        raise InputError(
            f"affine registration to the atlas failed ({' '.join(str(exc).split())[-300:]}). "
            "Check the scan and its brain mask (qc)."
        ) from exc
    qc = {
        "metric": float(reg.GetMetricValue()),
        "iterations": int(reg.GetOptimizerIteration()),
        "stop": reg.GetOptimizerStopConditionDescription(),
    }
    return transform, qc


def affine_summary(transform: sitk.Transform) -> dict:
    """Rotation angle (degrees) and stretches of the registration's linear part (polar
    decomposition). Heads lie upright in every scanner, so a rotation near 90 degrees or a stretch
    far from 1 means a wrong orientation header or a failed registration (QC flags both)."""
    t = transform
    while isinstance(t, sitk.CompositeTransform) or t.GetName() == "CompositeTransform":
        t = sitk.CompositeTransform(t).GetNthTransform(0)
    matrix = np.asarray(sitk.AffineTransform(t).GetMatrix(), dtype=float).reshape(3, 3)
    u, stretch, vt = np.linalg.svd(matrix)
    rotation = u @ vt
    angle = float(np.degrees(np.arccos(np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0))))
    return {
        "registration_rotation_deg": angle,
        "registration_stretch_min": float(stretch.min()),
        "registration_stretch_max": float(stretch.max()),
        "registration_reflects": bool(np.linalg.det(matrix) < 0),
    }


def _n4_shrink(size: tuple[int, ...], requested: int) -> int:
    """Shrink factor that keeps >= 32 voxels per axis (a 3 mm demo volume is not shrunk)."""
    return int(max(1, min(requested, min(size) // 32)))


def n4_correct(
    image: sitk.Image, mask: sitk.Image, iterations=(200, 200, 200, 200), tolerance: float = 5e-4, shrink: int = 4
) -> sitk.Image:
    """Masked N4; the field is fitted on a shrunk copy and divided out at full resolution."""
    image = sitk.Cast(image, sitk.sitkFloat32)
    # log(intensity) is fitted, so only strictly positive brain voxels take part.
    fit_mask = sitk.Cast(
        sitk.And(sitk.Cast(mask > 0, sitk.sitkUInt8), sitk.Cast(image > 0, sitk.sitkUInt8)), sitk.sitkUInt8
    )
    s = _n4_shrink(image.GetSize(), shrink)
    small, small_mask = sitk.Shrink(image, [s] * 3), sitk.Shrink(fit_mask, [s] * 3)
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations([int(i) for i in iterations])
    n4.SetConvergenceThreshold(float(tolerance))
    n4.Execute(small, small_mask)
    log_field = n4.GetLogBiasFieldAsImage(image)
    return sitk.Mask(sitk.Divide(image, sitk.Exp(log_field)), fit_mask)
