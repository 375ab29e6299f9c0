"""The GPU benchmark's tiny mode on the CPU (CI): every part runs, the record says what ran where, and
the paper run's GPU hours are derived for every trained method."""

from __future__ import annotations

import json

import pytest

from tests.helpers.benchmarks import run_bench_gpu

from patch2loc.registry import REGISTRY

# every trained method of the registry but the offline variants, whose code paths are their paper
# methods' (the paper methods run on stand-ins of their published networks)
TRAINED = {m.name for m in REGISTRY if m.trains and not m.variant_of} | {
    m.pretrain.name for m in REGISTRY if m.pretrain
}


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    done = run_bench_gpu(out, "cpu", timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "paper run, GPU hours" in done.stdout
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.starts_first
@pytest.mark.slow
def test_every_part_ran_without_error(record):
    env, res = record["environment"], record["results"]
    assert env["device"] == "cpu" and env["torch"] and env["cpu"]
    assert set(res) == {"patch2loc_training", "heatmap", "methods", "job", "predict"}
    assert not any("error" in json.dumps(v) for v in res.values())
    for variant in ("none", "bf16", "fp16", "bf16-cl", "fp16-cl"):
        assert res["patch2loc_training"][variant]["steps_per_s"] > 0
    assert set(res["methods"]) == TRAINED - {"Patch2Loc"}
    for name, row in res["methods"].items():
        assert {"none", "bf16", "fp16"} <= set(row["training"]) or name == "PHANES", name
        assert "none" in row["training"], name
        assert (name == "cDDPM-pretrain") == ("scoring" not in row), name
        if "scoring" in row:  # one volume alone, and volumes streamed as a job's device stage runs them
            got = row["scoring"]
            assert got["seconds_per_volume"] >= got["model_seconds"] > 0, name
            assert got["streamed_s_per_volume"] >= got["streamed_model_seconds"] > 0, name


@pytest.mark.slow
def test_precisions_are_compared_on_the_same_weights(record):
    agreement = record["results"]["heatmap"]["agreement"]
    assert agreement["none"]["max_abs_diff_raw"] == 0.0  # fp32 against itself
    for amp in ("bf16", "fp16"):
        assert 0.0 <= agreement[amp]["max_abs_diff_raw"] < 5.0 and 0.0 <= agreement[amp]["auprc"] <= 1.0


@pytest.mark.slow
def test_the_median_filter_on_the_scoring_device_equals_scipy_and_the_jobs_are_timed(record):
    heat, job = record["results"]["heatmap"], record["results"]["job"]
    assert heat["postprocess_max_abs_diff_from_scipy"] == 0.0
    for method in ("Patch2Loc", "AE"):
        assert job[method]["sequential_s_per_volume"] > 0 and job[method]["pipelined_s_per_volume"] > 0


@pytest.mark.slow
def test_predict_is_split_into_scoring_and_the_rest(record):
    p = record["results"]["predict"]
    assert p["wall_s"] > p["scoring_s"] > 0 and p["rest_s"] == pytest.approx(p["wall_s"] - p["scoring_s"])


@pytest.mark.slow
def test_gpu_hours_cover_every_trained_method_and_the_paper_splits(record):
    hours = record["gpu_hours"]
    assert set(hours) == TRAINED | {"total"}
    # Patch2Loc and the DAE read T1, T2 and T1T2 (registry `multicontrast`); the others T1 and T2; five folds.
    assert hours["Patch2Loc"]["trainings"] == hours["DAE"]["trainings"] == 15
    assert hours["DDPM"]["trainings"] == hours["cDDPM-pretrain"]["trainings"] == 10
    assert hours["Patch2Loc"]["scorings"] > hours["DDPM"]["scorings"] > 5 * 1251  # BraTS21 alone, per fold
    assert hours["total"]["gpu_h"] == pytest.approx(sum(r["gpu_h"] for k, r in hours.items() if k != "total"))
    for name, row in hours.items():  # what the GPU is held for against what the networks need
        if name != "total":
            assert row["gpu_h"] >= row["need_gpu_h"] > 0 and row["held_over_need"] >= 1.0, name


@pytest.mark.slow
def test_a_batch_that_holds_every_patch_is_not_timed_again(record):
    """The other batch sizes' rows: at tiny sizes every patch fits one batch at either size, the same
    single batch as project_bf16's, so they are recorded as skipped, not timed."""
    heat = record["results"]["heatmap"]
    others = {k: r for k, r in heat.items() if k.startswith("project_bf16_batch")}
    assert len(others) == 2 and heat["project_bf16"]["patches"] <= min(r["batch_size"] for r in others.values())
    assert all("skipped" in r and "seconds" not in r for r in others.values()), others
