"""The README's demo table and the demo's checks come from a run's files (patch2loc.evaluation.report.demo_summary)."""

from __future__ import annotations

import pandas as pd

from patch2loc.evaluation.figures.kde import kde_figure
from patch2loc.evaluation.report import demo_summary
from tests.helpers.demo_run import finished_demo_run as _run


def test_table_and_passing_checks(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0)
    assert demo_summary.main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "| Thresh | 20.00 / 10.00 |" in out
    assert "| Patch2Loc | 30.00 ± 1.41 / 25.00 ± 1.41 |" in out
    assert out.count("PASS") == 7 and "FAIL" not in out  # 2 models + 4 AUPRC sets + the figures
    assert "PASS  figures: 1 of 1 figures have data in every panel they draw" in out


def test_failing_checks_exit_1(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.15, val_error=12.0)  # ratio 1.5 < 2; 12/30 = 0.4 > 0.35
    assert demo_summary.main([str(run)]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") == 4 and out.count("PASS") == 3  # BraTS21 and MSLUB need only > 1x; figures
    assert "PASS  AUPRC MSLUB" in out and "FAIL  AUPRC WMH" in out


def test_quick_demo_needs_brats_on_par_with_thresh(tmp_path, capsys):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    on_par = _run(tmp_path / "a", ours_auprc=0.25, val_error=9.0, brats_auprc=0.08)  # 0.8x Thresh
    assert demo_summary.main([str(on_par)]) == 0
    assert "PASS  AUPRC BraTS21" in capsys.readouterr().out
    below = _run(tmp_path / "b", ours_auprc=0.25, val_error=9.0, brats_auprc=0.07)  # 0.7x: nearer chance
    assert demo_summary.main([str(below)]) == 1
    assert "FAIL  AUPRC BraTS21" in capsys.readouterr().out


def test_long_demo_needs_brats_above_thresh(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0, dae=True, brats_auprc=0.1)  # equal: not above
    assert demo_summary.main([str(run), "--checks", "long"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL") == 1 and "FAIL  AUPRC BraTS21" in out


def test_long_checks_need_2x_on_strokes_and_wmh_and_the_competitors_rows(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.15, val_error=9.0)
    assert demo_summary.main([str(run)]) == 1  # 1.5x: passes BraTS21/MSLUB, fails ATLAS_v2/WMH
    capsys.readouterr()
    assert demo_summary.main([str(run), "--checks", "long"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAIL  AUPRC") == 2 and "PASS  AUPRC BraTS21" in out  # long: BraTS21 above Thresh
    assert "PASS  AUPRC MSLUB" in out and "must be > 1" in out  # MSLUB: above Thresh, as the quick demo
    assert "FAIL  DAE rows" in out and "FAIL  cDDPM rows" in out and "FAIL  VAE rows" in out


def _scan(folder, lesion_voxels: int) -> None:
    """A 10x10x10 preprocessed scan: a 500-voxel brain mask holding `lesion_voxels` lesion voxels."""
    import nibabel as nib
    import numpy as np

    folder.mkdir(parents=True)
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[:5] = 1
    seg = np.zeros_like(mask)
    seg.reshape(-1)[:lesion_voxels] = 1
    image = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    for name, data in (("image", image), ("mask", mask), ("seg", seg)):
        nib.save(nib.Nifti1Image(data, np.eye(4)), str(folder / f"{name}.nii.gz"))


def test_chance_level_is_the_lesions_share_of_the_brain(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0)
    _scan(run / "preprocessed" / "MSLUB" / "T2" / "s0", 5)  # 1 % of the brain
    _scan(run / "preprocessed" / "MSLUB" / "T2" / "s1", 15)  # 3 %: the set's chance level is 2 %
    assert demo_summary.main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "INFO  chance MSLUB: a random heatmap's AUPRC 2.000 %" in out
    assert "Thresh 5.00 x, Patch2Loc 12.50 x chance" in out
    assert "INFO  chance WMH" not in out  # no masks in the run for that set: no line


def test_chance_level_in_native_space_is_the_lesion_voxels_over_the_native_brain(tmp_path):
    import nibabel as nib
    import numpy as np

    folder = tmp_path / "preprocessed" / "WMH" / "T1" / "s0"
    _scan(folder, 5)  # atlas space: 1 % of the brain; not what a natively scored volume uses
    brain = np.zeros((20, 20, 10), np.uint8)
    brain[:10] = 1  # 2,000 voxels
    nib.save(nib.Nifti1Image(brain, np.eye(4)), str(folder / "native_mask.nii.gz"))
    metrics = pd.DataFrame(
        [{"dataset": "WMH", "modality": "T1", "subject": "s0", "space": "native", "lesion_voxels": 60}] * 2
    )
    assert demo_summary.chance_levels(tmp_path, metrics) == {"WMH": 0.03}
    assert demo_summary.chance_levels(tmp_path, metrics.assign(space="atlas")) == {"WMH": 0.01}


def test_long_checks_pass_with_the_dae_and_compare_it(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0, dae=True)
    assert demo_summary.main([str(run), "--checks", "long"]) == 0
    out = capsys.readouterr().out
    assert "PASS  DAE rows" in out and "| DAE | 40.00 ± 0.00 / 30.00 ± 0.00 |" in out
    assert "PASS  pDDPM rows" in out and "| cDDPM | 40.00 ± 0.00 / 30.00 ± 0.00 |" in out
    assert "INFO  DAE WMH: AUPRC 30.00 % = 3.00 x Thresh, 1.20 x Patch2Loc" in out
    assert "INFO  DDPM WMH: AUPRC 30.00 % = 3.00 x Thresh, 1.20 x Patch2Loc" in out
    rows = [
        line.split(" |")[0]
        for line in out.splitlines()
        if line.startswith("| ") and "BraTS21" not in line and "---" not in line
    ]
    assert rows == [
        "| Patch2Loc",
        "| DAE",
        "| Thresh",
        "| DDPM",
        "| pDDPM",
        "| cDDPM",
        "| AE",
        "| VAE",
        "| RA-noLPIPS",
        "| PHANES-noPretrained",
        "| FAE-random",
    ]  # registry order; the methods on published networks as their offline variants
    assert "PASS  AE rows" in out and "PASS  VAE rows" in out and "PASS  FAE-random rows" in out
    assert "FAE rows" not in out.replace("FAE-random rows", "")
    assert "INFO  VAE WMH: AUPRC 30.00 % = 3.00 x Thresh, 1.20 x Patch2Loc" in out


def test_missing_run_exits_2(tmp_path, capsys):
    assert demo_summary.main([str(tmp_path / "nothing")]) == 2
    assert "per_volume_metrics.csv" in capsys.readouterr().err


def _add_two_contrast_rows(run, methods=("Patch2Loc", "DAE")):
    """A T1T2 model of each method and a T1 Patch2Loc scoring BraTS21 and MSLUB beside the paper's rows."""
    path = run / "tables" / "per_volume_metrics.csv"
    metrics = pd.read_csv(path)
    extra = [
        dict(method=m, modality=i, fold=0, dataset=d, subject=f"s{s}", auprc=0.5, best_dice=0.6, region="brain")
        for m, i in [(m, "T1T2") for m in methods] + [("Patch2Loc", "T1")]
        for d in ("BraTS21", "MSLUB")
        for s in range(2)
    ]
    pd.concat([metrics, pd.DataFrame(extra)]).to_csv(path, index=False)


def test_two_contrast_rows_are_their_own_and_leave_the_papers_rows_unchanged(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0, dae=True)
    demo_summary.main([str(run), "--checks", "long"])
    before = capsys.readouterr().out
    _add_two_contrast_rows(run)
    assert demo_summary.main([str(run), "--checks", "long"]) == 0
    out = capsys.readouterr().out
    for line in before.splitlines():  # the single-contrast rows and their checks are the same lines
        if line.startswith("| Patch2Loc |") or line.startswith("PASS  AUPRC"):
            assert line in out
    assert "| Patch2Loc [T1T2] | 60.00 / 50.00 | 60.00 / 50.00 | n/a / n/a | n/a / n/a |" in out
    assert "| Patch2Loc [T1] | 60.00 / 50.00 |" in out
    assert "PASS  Patch2Loc [T1T2] rows: evaluated on ['BraTS21', 'MSLUB']" in out
    assert "PASS  DAE [T1T2] rows" in out


def test_a_two_contrast_input_without_its_dae_rows_fails_the_long_checks(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0, dae=True)
    _add_two_contrast_rows(run, methods=("Patch2Loc",))
    assert demo_summary.main([str(run), "--checks", "long"]) == 1
    assert "FAIL  DAE [T1T2] rows: evaluated on no lesion set" in capsys.readouterr().out


def test_a_figure_with_an_empty_panel_fails_the_checks(tmp_path, capsys):
    run = _run(tmp_path, ours_auprc=0.25, val_error=9.0)
    # a KDE figure whose abnormal class has no patch (the demo's figures before their definition)
    patches = pd.DataFrame(
        {
            "dataset": "WMH",
            "fold": 0,
            "lesion_fraction": [0.0, 0.0, 0.05, 0.3],
            "log_error": [1.0, 2.0, 1.5, 3.0],
            "log_variance": [0.1, 0.2, 0.3, 0.4],
            "score": [1.1, 2.2, 1.8, 3.4],
        }
    )
    kde_figure(patches, "WMH", run / "figures" / "kde_WMH.png")
    assert demo_summary.main([str(run)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  figures: 1 of 2 figures have data in every panel they draw; kde_WMH.png:" in out
    assert "panel 'log-error': 'abnormal (>90% lesion)' has no data" in out


def test_the_long_demo_runs_every_method_it_checks_and_downloads_nothing():
    """config/demo_long.yaml runs Patch2Loc, Thresh and every method `COMPARED` holds (each method on
    published networks as its offline variant), none that needs a published file."""
    from pathlib import Path

    from patch2loc.registry import BASELINE, DEFAULT_METHOD, METHODS, run_methods
    from patch2loc.run.configfiles import load

    repo = Path(__file__).resolve().parents[2]
    long = run_methods(load([repo / "config" / "demo.yaml", repo / "config" / "demo_long.yaml"]))
    assert set(long) == {DEFAULT_METHOD, BASELINE, *demo_summary.COMPARED}
    assert not [m for m in long if METHODS[m].pretrained]
    assert {METHODS[m].variant_of for m in long if METHODS[m].variant_of} == {
        m.name for m in METHODS.values() if m.pretrained
    }
