"""The rules' time limits (the registry's train_minutes and score_minutes, which SLURM enforces) against
the GPU benchmark's record at the paper's scale (docs/gpu/h200-2026-11-27.json): a training may take ten
times its measured fp32 time, a scored volume three times its measured seconds (docs/gpu.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.benchmarks import BENCHMARKS

from patch2loc.registry import METHODS, TRAINED

sys.path.append(str(BENCHMARKS))  # the benchmark's package `gpu`, as bench_gpu.py imports it
from gpu.hours import patch2loc_measures  # noqa: E402  the paper config's Patch2Loc rows, as the GPU hours take them

REPO = Path(__file__).resolve().parents[2]
RECORD, CONFIG = REPO / "docs" / "gpu" / "h200-2026-11-27.json", REPO / "config" / "config.yaml"
TRAIN_MARGIN, SCORE_MARGIN = 10, 3
# Scorings the leases' time did not reach; each borrows a measured method's limit (registry comment).
SCORING_NOT_MEASURED: set[str] = set()
# Trainings the leases' time did not reach: their limits are a measured method's (registry comment).
TRAINING_NOT_MEASURED: set[str] = set()


@pytest.fixture(scope="module")
def measured() -> dict:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    res = record["results"]
    heat, patch2loc = res["heatmap"], patch2loc_measures(res)
    out = {
        "Patch2Loc": {"training": patch2loc["training"], "scoring": patch2loc["scoring"]["seconds_per_volume"]},
        "Thresh": {"scoring": heat.get("postprocess_cpu_s", heat["postprocess_s"])},  # a CPU job: SciPy's filter
    }
    for name, row in res["methods"].items():
        out[name] = {"training": row.get("training"), "scoring": (row.get("scoring") or {}).get("seconds_per_volume")}
    return out


def _fp32_minutes(training: dict) -> float:
    """Minutes of the paper's training length at the measured fp32 rate (Patch2Loc's record gives no
    length: the paper config's)."""
    steps = training.get("paper_steps") or yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["patch2loc"]["steps"]
    return steps / training["none"]["steps_per_s"] / 60


@pytest.mark.parametrize("name", TRAINED)
def test_every_training_limit_covers_ten_times_the_measured_time(name, measured):
    method = METHODS[name]
    if name in TRAINING_NOT_MEASURED:
        assert not (measured.get(name) or {}).get("training"), (
            f"{name} is measured now: take it out of TRAINING_NOT_MEASURED"
        )
        return
    assert method.train_minutes >= TRAIN_MARGIN * _fp32_minutes(measured[name]["training"])
    if method.pretrain:
        pre = measured[method.pretrain.name]["training"]
        assert method.pretrain.train_minutes >= TRAIN_MARGIN * _fp32_minutes(pre)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_scoring_limit_covers_three_times_the_measured_seconds(name, measured):
    seconds = (measured.get(name) or {}).get("scoring")
    if name in SCORING_NOT_MEASURED:
        assert seconds is None, f"{name} is measured now: take it out of SCORING_NOT_MEASURED"
        return
    assert METHODS[name].score_minutes * 60 >= SCORE_MARGIN * seconds
