"""RunLayout names every file of a run folder and reads a path back into its keys."""

from __future__ import annotations

import pytest
from tests.helpers.benchmarks import benchmark_module

from patch2loc.registry import REGISTRY
from patch2loc.run.layout import ALL_FOLDS, SCORE_FILES, RunLayout
from patch2loc.run.paths import FIGURES

LAYOUT = RunLayout.of_run("r")


def test_paths_of_a_run_are_those_the_docs_give():
    assert LAYOUT.root == "results/r"
    assert LAYOUT.checkpoint("T1", 0, "Patch2Loc") == "results/r/models/T1/fold0/best.pt"
    assert LAYOUT.model_file("DAE", "loss.csv", "T2", 3) == "results/r/models/DAE/T2/fold3/loss.csv"
    assert LAYOUT.model_dir("DAE", root="resume/models") == "results/r/resume/models/DAE/{modality}/fold{fold}"
    assert LAYOUT.threshold("Thresh", "T1", ALL_FOLDS) == "results/r/scores/Thresh/T1/all/IXI/threshold.json"
    shard = "results/r/scores/{method}/{modality}/{fold}/{dataset}/shards/2/metrics.csv"
    assert LAYOUT.shard("metrics.csv", shard=2) == shard
    assert LAYOUT.figure("heatmaps", "ATLAS_v2", "T1") == "results/r/figures/heatmaps_ATLAS_v2_T1.png"
    assert LAYOUT.figure("recall_size", "WMH") == "results/r/figures/recall_size_WMH.png"
    assert LAYOUT.scores("lesions.csv", "DAE", "T1", "fold0", "WMH") == "results/r/scores/DAE/T1/fold0/WMH/lesions.csv"
    assert LAYOUT.table("bias") == "results/r/tables/bias"
    with pytest.raises(AssertionError):  # a scoring file the layout does not name
        LAYOUT.scores("lesion.csv")
    assert LAYOUT.log("scores", "{method}", "IXI") == "results/r/logs/scores/{method}_IXI.log"
    assert LAYOUT.log("report") == "results/r/logs/report.log"
    assert LAYOUT.benchmark("train_dae", "DAE", "T1", "fold0") == "results/r/benchmarks/train_dae/DAE_T1_fold0.tsv"
    assert LAYOUT.bundle("T2", "DAE") == "results/r/bundles/DAE/T2.zip"
    assert LAYOUT.bundle("T2") == "results/r/bundles/T2.zip"
    assert LAYOUT.train_log("DAE") == "results/r/logs/train/DAE/{modality}_fold{fold}.log"


@pytest.mark.parametrize("method", REGISTRY, ids=[m.name for m in REGISTRY])
def test_every_path_reads_back_into_its_keys(method):
    fold = "fold2" if method.trains else ALL_FOLDS
    keys = {"method": method.name, "modality": "T2", "fold": fold, "dataset": "ATLAS_v2"}
    for name in SCORE_FILES:  # lesions.csv: rule table3's input, one row per ground-truth lesion
        assert RunLayout.parse(LAYOUT.scores(name, **keys), "scores") == {**keys, "name": name}
    heatmap = f"{LAYOUT.scores('heatmaps', **keys)}/sub_01.nii.gz"
    assert RunLayout.parse(heatmap, "heatmap") == {**keys, "subject": "sub_01"}
    assert RunLayout.parse(f"{LAYOUT.viewer_dir(**keys)}/sub_01.html", "viewer") == {**keys, "subject": "sub_01"}
    if method.trains:
        for root in ("models", "resume/models"):
            path = LAYOUT.model_file(method.name, "best.pt", "T1", 4, root=root)
            assert RunLayout.parse(path, "model") == {
                "method": method.name,
                "modality": "T1",
                "fold": "4",
                "name": "best.pt",
            }
    assert RunLayout.parse(LAYOUT.figure("loss_curves", method.name), "figure:loss_curves") == {"method": method.name}


def test_scans_figures_and_folds_read_back():
    assert RunLayout.parse("/abs/results/r/normalized/WMH/T1/GE3T_100/image.nii.gz", "normalized") == {
        "dataset": "WMH",
        "modality": "T1",
        "subject": "GE3T_100",
    }
    assert RunLayout.parse(LAYOUT.preprocessed("IXI", "T2", "IXI002-Guys", "seg.nii.gz"), "preprocessed") == {
        "dataset": "IXI",
        "modality": "T2",
        "subject": "IXI002-Guys",
        "name": "seg.nii.gz",
    }
    for kind, names in FIGURES.items():
        keys = ["ATLAS_v2" if n == "dataset" else "T1" if n == "modality" else "DAE" for n in names]
        assert RunLayout.parse(LAYOUT.figure(kind, *keys), f"figure:{kind}") == dict(zip(names, keys))
    assert RunLayout.fold_number(RunLayout.fold_name(7)) == 7 and RunLayout.fold_number(ALL_FOLDS) is None
    with pytest.raises(ValueError, match="not a run's scores path"):  # a shard's file is not a dataset's
        RunLayout.parse(LAYOUT.shard("metrics.csv", "DAE", "T1", "fold0", "WMH", 0), "scores")
    with pytest.raises(ValueError):
        RunLayout.parse(LAYOUT.figure("kde_methods", "MSLUB"), "figure:heatmaps")


def _demo_seeds():
    return benchmark_module("demo_seeds")


def test_a_seed_study_variant_is_read_from_its_text():
    """studies/demo_seeds.py --variants SEED:AMP:KERNEL: one table of a whole study."""
    demo_seeds = _demo_seeds()
    assert demo_seeds._variant("3141:bf16:zen4") == (3141, "bf16", "zen4")
    for bad in ("3141:fp8:default", "1:none:arm", "1:none"):
        with pytest.raises(SystemExit):
            demo_seeds._variant(bad)


def test_a_seed_study_reuses_the_runs_own_model_only_for_the_configs_variant(tmp_path, monkeypatch):
    """studies/demo_seeds.py --reuse-run: the run's model files are copied into the folder of
    the variant with the config's seed and amp and the default kernels, and into no other."""
    import json
    from pathlib import Path

    demo_seeds = _demo_seeds()
    run = tmp_path / "run"
    model = run / "models" / "T1" / "fold0"
    model.mkdir(parents=True)
    for name in ("last.pt", "best.pt", "loss.csv"):
        (model / name).write_text(f"the run's {name}", encoding="utf-8")
    config = {"folds": [0], "patch2loc": {"seed": 3141, "amp": "none", "threads": 1}}

    def fake_child(cmd, **kwargs):  # the training process: report which files it found
        folder = Path(cmd[cmd.index("--task-out") + 1])
        found = sorted(p.name for p in folder.iterdir() if p.suffix in (".pt", ".csv"))
        settings = json.loads((folder / "task.json").read_text(encoding="utf-8"))["patch2loc"]
        (folder / "result.json").write_text(json.dumps({"settings": settings, "found": found}), encoding="utf-8")

    monkeypatch.setattr(demo_seeds.subprocess, "run", fake_child)
    out = tmp_path / "study"
    own = demo_seeds._launch(str(run), config, 3141, "none", "default", "T1", out, reuse=True)
    assert own["found"] == ["best.pt", "last.pt", "loss.csv"]
    assert (out / "seed3141_none_default" / "T1" / "last.pt").read_text(encoding="utf-8") == "the run's last.pt"
    for seed, amp, kernel in ((1, "none", "default"), (3141, "bf16", "default"), (3141, "none", "avx2")):
        assert demo_seeds._launch(str(run), config, seed, amp, kernel, "T1", out, reuse=True)["found"] == []
    assert demo_seeds._launch(str(run), config, 3141, "none", "default", "T1", tmp_path / "fresh")["found"] == []


def _study_row(seed: int, inputs: dict) -> dict:
    return {"seed": seed, "amp": "none", "kernel": "default", **inputs}


def test_a_seed_study_table_of_the_paper_inputs_keeps_its_columns_and_adds_a_stacks_after_them():
    """studies/demo_seeds.py --inputs: T1 and T2 alone give the table the docs show (their sets by
    name); a T1T2 input adds its location ratio and "set [T1T2]" columns, held to the same set's bar."""
    demo_seeds = _demo_seeds()
    thresh = {"BraTS21": 0.2, "MSLUB": 0.1, "ATLAS_v2": 0.01, "WMH": 0.01}
    t1 = {"location_ratio": 0.07, "auprc": {"ATLAS_v2": 0.3, "WMH": 0.04}}
    t2 = {"location_ratio": 0.08, "auprc": {"BraTS21": 0.5, "MSLUB": 0.15}}
    both = {"location_ratio": 0.06, "auprc": {"BraTS21": 0.6, "MSLUB": 0.15}}
    paper = demo_seeds.summarize([_study_row(1, {"T1": t1, "T2": t2})], thresh, "long")
    assert paper[0] == (
        "| seed | amp | kernel | loc T1 | loc T2 | BraTS21 /Thresh | MSLUB /Thresh | ATLAS_v2 /Thresh "
        "| WMH /Thresh | checks |"
    )
    assert paper[2] == "| 1 | none | default | 0.07 | 0.08 | 2.50 | 1.50 | 30.00 | 4.00 | PASS |"
    rows = [_study_row(1, {"T1": t1, "T2": t2, "T1T2": both})]
    stacked = demo_seeds.summarize(rows, thresh, "long", ["T1", "T2", "T1T2"])
    assert stacked[0].endswith("| WMH /Thresh | BraTS21 [T1T2] /Thresh | MSLUB [T1T2] /Thresh | checks |")
    assert stacked[2] == "| 1 | none | default | 0.07 | 0.08 | 0.06 | 2.50 | 1.50 | 30.00 | 4.00 | 3.00 | 1.50 | PASS |"
    too_far = {**both, "location_ratio": 0.5}  # its location ratio is checked as every model's is
    assert demo_seeds.summarize([_study_row(2, {"T1T2": too_far})], thresh, "long", ["T1T2"])[2].endswith("| FAIL |")
    below = {**both, "auprc": {"BraTS21": 0.2, "MSLUB": 0.15}}  # 1x Thresh on BraTS21: not above its > 1x bar
    assert demo_seeds.summarize([_study_row(3, {"T1T2": below})], thresh, "long", ["T1T2"])[2].endswith("| FAIL |")


def test_a_seed_study_input_is_scored_on_the_sets_that_have_its_contrasts():
    demo_seeds = _demo_seeds()
    config = {
        "inputs": {"T1": ["T1"], "T2": ["T2"], "T1T2": ["T1", "T2"]},
        "datasets": {
            "IXI": {},
            "BraTS21": {"contrasts": ["T2", "T1"]},
            "MSLUB": {"contrasts": ["T2", "T1"]},
            "WMH": {},
        },
    }
    assert demo_seeds.input_sets(config, "T1T2") == ("BraTS21", "MSLUB")
    assert demo_seeds.input_sets(config, "T2") == ("BraTS21", "MSLUB")
    with pytest.raises(SystemExit, match="--inputs T1FLAIR: not an input of the config"):
        demo_seeds.input_sets(config, "T1FLAIR")
