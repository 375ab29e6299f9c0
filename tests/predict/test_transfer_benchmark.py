"""studies/transfer_real.py without the real scans or a real run: which models
it finds in a run folder, its refusal of a folder that is not a finished run, the chance level, the
brain it reads back from predict's outputs, one row from a stand-in predict, and the table."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from tests.helpers.benchmarks import benchmark_module

from patch2loc.scoring.metrics import evaluate_volume
from patch2loc.registry import REGISTRY
from rehearsals.real.real_scans import RealScan
from patch2loc.run.layout import RunLayout

TRAINED = [m.name for m in REGISTRY if m.trains]
UNTRAINED = [m.name for m in REGISTRY if not m.trains]
AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])


BENCH = benchmark_module("transfer_real")


def fake_run(base: Path, methods: list[str], folds=(0, 1), trained_on_disk=None) -> Path:
    """A run folder with the files the benchmark looks for (empty: it reads none of them)."""
    run, layout = base / "run", RunLayout(base / "run")
    run.mkdir(parents=True)
    Path(layout.config).write_text(yaml.safe_dump({"methods": methods, "folds": list(folds)}), encoding="utf-8")
    for path in (layout.report, layout.landmarks("T1"), layout.atlas_image):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
    for method in trained_on_disk if trained_on_disk is not None else [m for m in methods if m in TRAINED]:
        for fold in folds:
            Path(layout.checkpoint("T1", fold, method)).parent.mkdir(parents=True, exist_ok=True)
            Path(layout.checkpoint("T1", fold, method)).touch()
    return run


def test_the_trained_methods_and_folds_come_from_the_runs_config(tmp_path):
    methods = [TRAINED[1], UNTRAINED[0], TRAINED[0]]
    run = fake_run(tmp_path, methods, trained_on_disk=TRAINED[:3])  # a third method's models: not in the config
    assert BENCH.trained_models(run) == {TRAINED[1]: [0, 1], TRAINED[0]: [0, 1]}
    assert list(BENCH.trained_models(run)) == [TRAINED[1], TRAINED[0]]  # the config's order


def _no_report(run: Path) -> str:
    Path(RunLayout(run).report).unlink()
    return "report.html"


def _no_fold(run: Path) -> str:
    Path(RunLayout(run).checkpoint("T1", 1, TRAINED[0])).unlink()
    return RunLayout(run).checkpoint("T1", 1, TRAINED[0])


def _no_config(run: Path) -> str:
    Path(RunLayout(run).config).unlink()
    return "config.resolved.yaml"


def _no_landmarks(run: Path) -> str:
    Path(RunLayout(run).landmarks("T1")).unlink()
    return "T1.npy"


@pytest.mark.parametrize("damage", [_no_report, _no_fold, _no_config, _no_landmarks])
def test_a_folder_that_is_not_a_finished_run_is_refused_in_one_line(tmp_path, capsys, damage):
    run = fake_run(tmp_path, [TRAINED[0]])
    named = damage(run)
    out = tmp_path / "out"
    assert BENCH.main([str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("transfer_real: error: ") and named in err, err
    assert "finished run" in err and not out.exists()


def test_a_run_without_a_trained_method_and_a_missing_folder_are_refused(tmp_path, capsys):
    assert BENCH.main([str(fake_run(tmp_path, UNTRAINED[:1])), "--out", str(tmp_path / "out")]) == 2
    assert "no trained method" in capsys.readouterr().err
    assert BENCH.main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_an_out_folder_inside_the_run_is_refused(tmp_path, capsys):
    run = fake_run(tmp_path, [TRAINED[0]])
    assert BENCH.main([str(run), "--out", str(run / "transfer")]) == 2
    assert "inside the run folder" in capsys.readouterr().err and not (run / "transfer").exists()


def test_chance_is_the_tumour_share_of_the_brain_and_a_constant_scores_auprc():
    brain = np.zeros((10, 10, 2), bool)
    brain[:, :, 0] = True  # 100 voxels
    label = np.zeros_like(brain)
    label[0, :5, 0] = True  # 5 in the brain
    label[0, :3, 1] = True  # 3 outside it: not counted
    assert BENCH.chance(label, brain) == (0.05, 5, 100)
    # a score that ranks nothing above anything has the AUPRC of the same region's prevalence
    assert evaluate_volume(np.zeros(brain.shape, np.float32), label, brain)["auprc"] == pytest.approx(0.05)
    assert np.isnan(BENCH.chance(label, np.zeros_like(brain))[0])


def _save(data: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data.astype(np.float32), AFFINE), str(path))
    return path


def _preprocessed(folder: Path, mask: np.ndarray) -> None:
    """predict's {scan}_preprocessed/: the atlas-space mask and the registration (identity here)."""
    import SimpleITK as sitk

    _save(mask, folder / "mask.nii.gz")
    sitk.WriteTransform(sitk.AffineTransform(3), str(folder / "transform.tfm"))


def _scan(tmp_path: Path) -> tuple[RealScan, np.ndarray]:
    """A scan whose brain is a box of 8 x 8 x 4 = 256 voxels and whose tumour has 16 voxels in it; its
    ROBEX mask has one slice more (320 voxels): the brain predict evaluates need not be ROBEX's."""
    brain = np.zeros((12, 12, 6), bool)
    brain[2:10, 2:10, 1:5] = True
    label = np.zeros_like(brain)
    label[4:6, 4:6, 1:5] = True
    label[0, 0, 0] = True  # outside the brain: not counted
    robex = brain.copy()
    robex[2:10, 2:10, 5] = True
    folder = tmp_path / "scans"
    files = [_save(a, folder / f"s{k}.nii.gz") for k, a in enumerate((brain * 100.0, label, robex))]
    return RealScan("s0", *files), brain


def test_the_brain_read_back_is_predicts_mask_on_the_native_grid(tmp_path):
    scan, brain = _scan(tmp_path)
    _preprocessed(tmp_path / "pre", brain)
    assert np.array_equal(BENCH.evaluated_brain(tmp_path / "pre", scan.image), brain)
    _preprocessed(tmp_path / "pre", np.zeros_like(brain))  # another mask, another brain
    assert not BENCH.evaluated_brain(tmp_path / "pre", scan.image).any()


def _fake_predict(brain: np.ndarray, lesion_voxels: int, auprc: float, rc: int = 0):
    """Stands in for `patch2loc predict`: writes what it writes into --out, or refuses with one line."""

    def run(argv, **kwargs):
        out = Path(argv[argv.index("--out") + 1])
        if rc == 0:
            _preprocessed(out / "s0_preprocessed", brain)
            summary = {"seg_metrics": {"auprc": auprc, "lesion_voxels": lesion_voxels}}
            (out / "s0_summary.json").write_text(json.dumps(summary), encoding="utf-8")
        return subprocess.CompletedProcess(argv, rc, "", "" if rc == 0 else "progress\npatch2loc: error: refused\n")

    return run


def test_a_row_is_predicts_auprc_over_the_chance_of_its_brain(tmp_path, monkeypatch):
    scan, brain = _scan(tmp_path)
    monkeypatch.setattr(BENCH.subprocess, "run", _fake_predict(brain, 16, 0.25))
    row = BENCH.measure(tmp_path / "run", TRAINED[0], [0, 1], scan, tmp_path / "out", "none", False)
    assert row["chance"] == 16 / 256 and row["ratio"] == pytest.approx(0.25 / (16 / 256))
    assert row["robex_chance"] == 16 / 320
    assert (row["method"], row["folds"], row["lesion_voxels"], row["brain_voxels"]) == (TRAINED[0], "0 1", 16, 256)
    argv = BENCH.predict_argv(tmp_path / "run", TRAINED[0], [0, 1], scan, tmp_path / "out", "none", False)
    assert argv[argv.index("--mask") + 1] == str(scan.mask) and argv[argv.index("--seg") + 1] == str(scan.label)
    assert argv[argv.index("--method") + 1] == TRAINED[0] and argv[argv.index("--folds") + 1 :][:2] == ["0", "1"]


def test_a_refusal_is_a_row_and_a_brain_that_is_not_predicts_is_an_error(tmp_path, monkeypatch):
    scan, brain = _scan(tmp_path)
    monkeypatch.setattr(BENCH.subprocess, "run", _fake_predict(brain, 16, 0.25, rc=2))
    row = BENCH.measure(tmp_path / "run", TRAINED[0], [0], scan, tmp_path / "out", "none", False)
    assert row["error"] == "patch2loc: error: refused" and "auprc" not in row
    monkeypatch.setattr(BENCH.subprocess, "run", _fake_predict(brain, 17, 0.25))  # predict counted another brain
    with pytest.raises(RuntimeError, match="predict counted 17"):
        BENCH.measure(tmp_path / "run", TRAINED[0], [0], scan, tmp_path / "out2", "none", False)


def _row(method, scan, auprc, chance, seconds=10.0):
    return {"method": method, "folds": "0", "scan": scan, "auprc": auprc, "chance": chance,
            "ratio": auprc / chance, "seconds": seconds}  # fmt: skip


def test_the_table_and_the_csv(tmp_path):
    a, b = TRAINED[:2]
    rows = [_row(a, "brain1", 0.2, 0.05), _row(a, "brain2", 0.01, 0.02, 20.0), _row(b, "brain1", 0.1, 0.05)]
    rows.append({"method": b, "folds": "0", "scan": "brain2", "seconds": 3.0, "error": "patch2loc: error: refused"})
    text = BENCH.write(tmp_path / "out", Path("results/demo_long"), rows, ["brain1", "brain2", "MRBrainTumor2"])
    lines = text.splitlines()
    assert lines[0].startswith("Run: results/demo_long. Measured ") and " cores." in lines[0]
    assert lines[2:] == [
        "| method | folds | brain1 | brain2 | MRBrainTumor2 | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
        "| chance (tumour share of the brain) | | 0.0500 | 0.0200 | n/a | |",
        f"| {a} | 0 | 0.200 (4.00x) | 0.010 (0.50x) | not yet measured | 30 |",
        f"| {b} | 0 | 0.100 (2.00x) | refused | not yet measured | 13 |",
        "",
        f"- refused: {b} on brain2: patch2loc: error: refused",
    ]
    assert (tmp_path / "out" / "transfer.md").read_text(encoding="utf-8") == text
    with open(tmp_path / "out" / "transfer.csv", encoding="utf-8", newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == list(BENCH.FIELDS) and len(read) == 4
    assert (read[0]["method"], float(read[0]["ratio"]), read[3]["error"]) == (a, 4.0, "patch2loc: error: refused")


def test_methods_selects_among_the_runs_trained_methods(tmp_path, monkeypatch, capsys):
    run = fake_run(tmp_path, TRAINED[:3])
    assert BENCH.main([str(run), "--out", str(tmp_path / "out"), "--methods", "NoSuchMethod"]) == 2
    assert "not trained methods of" in capsys.readouterr().err and not (tmp_path / "out").exists()
    scan, _ = _scan(tmp_path)
    monkeypatch.setattr(BENCH, "real_scan", lambda name, folder: scan)
    measured = []
    row = {"scan": scan.scan, "auprc": 0.5, "chance": 0.1, "ratio": 5.0, "seconds": 1, "error": ""}
    monkeypatch.setattr(BENCH, "measure", lambda run, method, *a: measured.append(method) or {**row, "method": method})
    monkeypatch.setattr(BENCH, "write", lambda *a: "table")
    assert BENCH.main([str(run), "--out", str(tmp_path / "out"), "--scans", "brain1", "--methods", TRAINED[1]]) == 0
    assert measured == [TRAINED[1]]
