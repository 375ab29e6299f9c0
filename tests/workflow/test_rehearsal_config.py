"""The real-layout rehearsal runs what the paper runs, and its summary checks it: every method of
config/config.yaml in config/rehearsal.yaml and in the rehearsal's Table 1; both SRI24 layouts."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from patch2loc.data.layouts import LESION_DATASETS
from patch2loc.registry import METHODS
from patch2loc.registry import run_methods
from patch2loc.run.configfiles import load as load_configfiles
from rehearsals.real.checks import same_atlas, table1_methods

REPO = Path(__file__).resolve().parents[2]


def _config(name: str) -> dict:
    return load_configfiles([REPO / "config" / name])


def test_rehearsal_runs_every_method_of_the_paper_config():
    """The rehearsal runs the paper's methods, those on published networks as their offline variants
    (it has no internet); the paper config runs every registered method but the variants."""
    paper, rehearsal = run_methods(_config("config.yaml")), run_methods(_config("rehearsal.yaml"))
    offline = {m.variant_of: m.name for m in METHODS.values() if m.variant_of}
    assert sorted(rehearsal) == sorted(offline.get(m, m) for m in paper), "config/rehearsal.yaml: the paper's methods"
    assert set(paper) == {name for name, m in METHODS.items() if not m.variant_of}
    for name in rehearsal:  # each with its own settings block (the DAE: `dae:`)
        assert METHODS[name].config is None or METHODS[name].config in _config("rehearsal.yaml"), name


def test_run_methods_reads_the_config_as_the_workflow_does():
    assert run_methods({"methods": ["Thresh"], "patch2loc": {}, "dae": {}}) == ["Thresh"]
    assert run_methods({"patch2loc": {}}) == ["Patch2Loc", "Thresh"]  # no dae: block, no DAE (the old rehearsal)
    assert run_methods({"patch2loc": {}, "dae": {}}) == ["Patch2Loc", "DAE", "Thresh"]
    assert run_methods({"train": {}, "dae": {}}) == ["DAE", "Thresh"]  # an unknown block names no method


def _table(path: Path, rows: dict[str, str]) -> Path:
    columns = [f"{d} {m}" for d in LESION_DATASETS for m in ("Dice", "AUPRC")]
    df = pd.DataFrame(
        [{"method": m, "source": "this harness", "region": "brain", **{c: v for c in columns}} for m, v in rows.items()]
        + [{"method": "DAE", "source": "published", "region": "", **{c: "5.0" for c in columns}}]
    )
    df.to_csv(path, index=False)
    return path


def test_table1_check_names_a_method_without_its_rows(tmp_path):
    every = ["Patch2Loc", "DAE", "Thresh"]
    full = table1_methods(_table(tmp_path / "t1.csv", {"Patch2Loc": "13.28", "DAE": "1.20", "Thresh": "44.76"}), every)
    assert full["missing"] == [] and full["complete"] == every
    # The old rehearsal: no DAE row of this harness (a published DAE row does not count).
    old = table1_methods(_table(tmp_path / "t2.csv", {"Patch2Loc": "13.28", "Thresh": "44.76"}), every)
    assert old["missing"] == ["DAE"]
    empty = table1_methods(_table(tmp_path / "t3.csv", {"Patch2Loc": "13.28", "DAE": "", "Thresh": "1.0"}), every)
    assert empty["missing"] == ["DAE"]
    assert table1_methods(tmp_path / "absent.csv", every)["missing"] == every


def test_same_atlas_compares_voxels_and_grid(tmp_path):
    def pair(name, data, affine=np.eye(4)):
        paths = (tmp_path / f"{name}_image.nii.gz", tmp_path / f"{name}_mask.nii.gz")
        nib.save(nib.Nifti1Image(data.astype(np.float32), affine), str(paths[0]))
        nib.save(nib.Nifti1Image((data > 0).astype(np.uint8), affine), str(paths[1]))
        return paths

    data = np.zeros((4, 5, 6))
    data[1:3, 1:4, 2:5] = 7.0
    shifted = np.diag([1.0, 1.0, 1.0, 1.0])
    shifted[0, 3] = 1.0
    assert same_atlas(pair("a", data), pair("b", data))
    assert not same_atlas(pair("a", data), pair("c", data * 2))
    assert not same_atlas(pair("a", data), pair("d", data, shifted))


def test_rehearsal_exits_non_zero_when_a_check_fails(monkeypatch, capsys):
    """Snakemake's exit 0 is not enough: a missing method or a differing atlas fails the rehearsal."""
    import rehearsals.real.run as run

    for checks, code in (
        ({"snakemake": True, "table1_every_paper_method": False, "sri24_both_layouts": True}, 1),
        ({"snakemake": True, "table1_every_paper_method": True, "sri24_both_layouts": True}, 0),
    ):
        summary = {
            "ok": all(checks.values()),
            "checks": checks,
            "returncode": 0,
            "seconds": {},
            "requests": {},
            "qc_flagged": [],
        }
        monkeypatch.setattr(run, "rehearse", lambda *a, **k: summary)
        assert run.main([]) == code
    assert "rehearsal check failed: table1_every_paper_method" in capsys.readouterr().err
