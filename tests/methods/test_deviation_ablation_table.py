"""studies/deviation_ablation.py: each arm's AUPRC against the long demo's, paired by test subject
(the mean over folds first), with a bootstrap interval; the arm's switches named from its resolved
config; a folder that is not a finished run, or an arm the long demo did not score, refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers.benchmarks import benchmark_module

study = benchmark_module("deviation_ablation")
REPO = Path(__file__).resolve().parents[2]
SUBJECTS = [f"s{i}" for i in range(6)]


def _run(tmp_path, name, config: dict, auprc: dict) -> Path:
    """A finished run: per-volume metrics of FAE-random on BraTS21 (T2), two folds, `auprc[subject]`
    per fold; ref_auprc half of it."""
    run = tmp_path / name
    (run / "tables").mkdir(parents=True)
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(config))
    rows = [
        {
            "method": "FAE-random",
            "modality": "T2",
            "dataset": "BraTS21",
            "fold": fold,
            "subject": s,
            "auprc": auprc[s][fold],
            "ref_auprc": auprc[s][fold] / 2,
        }
        for s in auprc
        for fold in (0, 1)
    ]
    pd.DataFrame(rows).to_csv(run / "tables" / "per_volume_metrics.csv", index=False)
    return run


def test_each_arm_is_the_paired_difference_with_the_long_demo(tmp_path, capsys):
    base = _run(tmp_path, "demo_long", {"fae": {"steps": 300}}, {s: (0.2, 0.4) for s in SUBJECTS})
    gains = {
        s: (0.3 + 0.01 * i, 0.5) for i, s in enumerate(SUBJECTS)
    }  # fold means 0.40 ... 0.425: + 10 ... + 12.5 points
    arm = _run(tmp_path, "dev_equalise", {"fae": {"steps": 300, "equalise": True}}, gains)
    assert study.main([str(base), str(arm), "--out", str(tmp_path / "t.md")]) == 0
    frame = pd.read_csv(tmp_path / "t.csv")
    shared = frame[frame["protocol"] == "shared protocol"].iloc[0]
    assert shared["switch"] == "fae.equalise: True" and shared["subjects"] == 6
    assert shared["long demo"] == pytest.approx(30.0) and shared["arm value"] == pytest.approx(41.25)
    mean, interval = shared["arm - long demo [95 % CI]"].split(" ", 1)
    low, high = (float(v) for v in interval.strip("[]").split(", "))
    assert float(mean) == pytest.approx(11.25) and 10.0 <= low < float(mean) < high <= 12.5
    authors = frame[frame["protocol"] == "authors' protocol"].iloc[0]
    assert authors["arm - long demo [95 % CI]"].startswith("+5.62")  # ref_auprc: half of each value
    assert "| dev_equalise | fae.equalise: True | FAE-random |" in capsys.readouterr().out


def test_a_folder_that_is_no_run_or_an_arm_without_its_base_is_one_line(tmp_path, capsys):
    base = _run(tmp_path, "demo_long", {}, {s: (0.2, 0.4) for s in SUBJECTS})
    assert study.main([str(base), str(tmp_path / "nothing")]) == 2
    assert "no tables/per_volume_metrics.csv" in capsys.readouterr().err
    other = _run(tmp_path, "dev_x", {}, {"t1": (0.1, 0.1), "t2": (0.2, 0.2)})  # subjects the base lacks
    assert study.main([str(base), str(other)]) == 2
    assert "run make demo-long first" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arm", sorted(p.stem.removeprefix("deviation_") for p in (REPO / "config" / "ablation").glob("deviation_*.yaml"))
)
def test_each_arm_is_the_long_demo_with_its_switches_and_its_own_run_name(arm):
    from patch2loc.run.configfiles import load

    long_demo = load([REPO / "config" / "demo_long.yaml"])
    config = load([REPO / "config" / "ablation" / f"deviation_{arm}.yaml"])
    assert config["run_name"] == f"dev_{arm}" and config["raw_root"] == f"results/dev_{arm}/raw"
    assert set(config["methods"]) < set(long_demo["methods"]) and config["splits_dir"] == long_demo["splits_dir"]
    switched = study.switches(config, long_demo)
    assert switched != "none"
    for block in study.BLOCKS:  # nothing but the switches differs in the method blocks
        same = {k: v for k, v in (config.get(block) or {}).items() if k not in study.SWITCHES}
        assert same == {k: v for k, v in (long_demo.get(block) or {}).items() if k not in study.SWITCHES}
    assert "DEVIATION_ARMS" in (REPO / "Makefile").read_text() and f" {arm}" in next(
        line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("DEVIATION_ARMS")
    )
