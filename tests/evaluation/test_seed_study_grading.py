"""studies/demo_seeds.py (its studies/seed_grading.py) grades a lesion-set volume as the run it studies does: on the scan's own
grid (raw scan and labels, native mask, registration) when evaluate.space is native, which is what
the demo's checks read; on the atlas grid otherwise. Until 2026-11-26 it always graded in atlas
space, so a seed's BraTS21 ratio (0.97x) disagreed with the demo's own check (1.01x)."""

from __future__ import annotations

from tests.helpers.benchmarks import benchmark_module

from patch2loc.data.layouts import raw_paths
from patch2loc.run.layout import RunLayout

seeds = benchmark_module("seed_grading")  # the seed study's grading (studies/demo_seeds.py)


def _config(space: str, inputs=None) -> dict:
    return {"evaluate": {"space": space}, "raw_root": "raw", "inputs": inputs or {}}


def test_a_native_run_is_graded_on_each_scans_own_grid(tmp_path):
    run = str(tmp_path / "run")
    scan = seeds.scan_for_grading(run, _config("native"), "BraTS21", "T2", "BraTS2021_00000", "img", "mask", "seg")
    raw = raw_paths("BraTS21", "raw", "BraTS2021_00000", "T2")
    lay = RunLayout(run)
    assert scan.native.image == str(raw.image) and scan.native.seg == str(raw.seg)
    assert scan.native.mask == str(lay.preprocessed("BraTS21", "T2", "BraTS2021_00000", "native_mask.nii.gz"))
    assert scan.native.transform == str(lay.preprocessed("BraTS21", "T2", "BraTS2021_00000", "transform.tfm"))


def test_a_stack_is_graded_on_its_reference_contrasts_grid(tmp_path):
    config = _config("native", {"T1T2": ["T1", "T2"]})
    scan = seeds.scan_for_grading(str(tmp_path), config, "BraTS21", "T1T2", "BraTS2021_00000", "i", "m", "s")
    assert scan.native.image == str(raw_paths("BraTS21", "raw", "BraTS2021_00000", "T1").image)


def test_an_atlas_run_is_graded_on_the_atlas_grid(tmp_path):
    scan = seeds.scan_for_grading(str(tmp_path), _config("atlas"), "BraTS21", "T2", "BraTS2021_00000", "i", "m", "s")
    assert scan.native is None and (scan.image, scan.mask, scan.seg) == ("i", "m", "s")
