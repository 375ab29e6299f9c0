"""The paper run's GPU hours per method, from the measured rates: every training (inputs x folds, at
the paper config's precision and length) plus the scoring of every test volume of the paper's splits
by every fold's model (IXI's test subjects for the threshold, and each lesion set its inputs score)."""

from __future__ import annotations

from gpu.common import REPO, paper_config
from patch2loc.data.inputs import model_inputs, set_inputs
from patch2loc.data.layouts import LESION_DATASETS
from patch2loc.data.splits import load_subjects
from patch2loc.registry import METHODS

PRETRAIN = "cDDPM-pretrain"


def volumes_per_fold(cfg: dict, inputs: dict, name: str) -> int:
    """Volumes one fold's model of input `name` scores: IXI's test subjects that have its contrasts,
    and the test subjects of every lesion set it scores."""
    splits = REPO / cfg["splits_dir"]
    ixi = load_subjects(splits, "IXI", "test", modality="T2" if "T2" in inputs[name] else "T1")
    sets = [d for d in cfg["datasets"] if d in LESION_DATASETS and name in set_inputs(inputs, cfg, d)]
    return len(ixi) + sum(len(load_subjects(splits, d, "test")) for d in sets)


def _method_inputs(method: str, inputs: dict) -> list[str]:
    return [n for n, c in inputs.items() if len(c) == 1 or METHODS[method].multicontrast]


def _rate(training: dict, amp: str) -> float | None:
    row = (training or {}).get(amp) or {}
    return row.get("steps_per_s")


def paper_run(results: dict) -> dict:
    """{method: trainings, hours per training, scorings, seconds per volume, GPU hours} for every
    method whose rates were measured."""
    cfg = paper_config()
    inputs = model_inputs(cfg, [d for d in cfg["datasets"] if d in LESION_DATASETS])
    folds = len(cfg["folds"])
    measured = {"Patch2Loc": patch2loc_measures(results), **(results.get("methods") or {})}
    rows = {}
    for method, got in measured.items():
        base = "cDDPM" if method == PRETRAIN else method
        block = cfg[METHODS[base].config]
        amp = (block.get("pretrain") or {}).get("amp", "none") if method == PRETRAIN else block.get("amp", "none")
        rate, steps = _rate(got.get("training"), amp), (got.get("training") or {}).get("paper_steps")
        if rate is None or steps is None:
            continue
        names = _method_inputs(base, inputs)
        trainings = len(names) * folds
        per_training = steps / rate / 3600
        row = {
            "precision": amp,
            "trainings": trainings,
            "hours_per_training": per_training,
            "training_gpu_h": trainings * per_training,
        }
        per_volume, network = held_seconds(got.get("scoring") or {})
        if method != PRETRAIN and per_volume is not None:
            scorings = folds * sum(volumes_per_fold(cfg, inputs, n) for n in names)
            row.update(scorings=scorings, seconds_per_volume=per_volume, scoring_gpu_h=scorings * per_volume / 3600)
            if network is not None:
                row["network_gpu_h"] = scorings * network / 3600
        row["gpu_h"] = row["training_gpu_h"] + row.get("scoring_gpu_h", 0.0)
        # what the networks need: the trainings (all network) and the scorings' network share
        row["need_gpu_h"] = row["training_gpu_h"] + row.get("network_gpu_h", 0.0)
        row["held_over_need"] = row["gpu_h"] / row["need_gpu_h"] if row["need_gpu_h"] else None
        rows[method] = row
    if rows:
        rows["total"] = {
            "gpu_h": sum(r["gpu_h"] for r in rows.values()),
            "need_gpu_h": sum(r["need_gpu_h"] for r in rows.values()),
        }
    return rows


def held_seconds(scoring: dict) -> tuple[float | None, float | None]:
    """(seconds a scored volume holds the GPU, of which its network): as a job streams volumes (the
    median filter beside the next volume's network) where that was measured, else one volume alone."""
    if "streamed_s_per_volume" in scoring:
        return scoring["streamed_s_per_volume"], scoring.get("streamed_model_seconds")
    return scoring.get("seconds_per_volume"), scoring.get("model_seconds")


def patch2loc_measures(results: dict) -> dict:
    """Patch2Loc's rates and its scoring as the paper config runs it (heatmap.amp auto: bf16 on a GPU,
    at the config's heatmap.batch_size where that batch was measured)."""
    training = dict(results.get("patch2loc_training") or {})
    training.setdefault("paper_steps", paper_config()["patch2loc"]["steps"])
    heat = results.get("heatmap") or {}
    batch = paper_config()["heatmap"]["batch_size"]
    at_batch = [
        r
        for k, r in heat.items()
        if k.startswith("project_bf16") and isinstance(r, dict) and r.get("batch_size") == batch
    ]
    # the paper config's engine: the network as trained (heatmap.compile off), where that row was measured
    plain = [r for r in at_batch if r.get("engine") == "plain"]
    scored = (plain or at_batch or [heat.get("project_bf16") or {}])[0]
    scoring = {}
    if "seconds" in scored:
        scoring = {
            "seconds_per_volume": scored["seconds"] + heat.get("postprocess_s", 0.0),
            "model_seconds": scored["seconds"],
        }
    return {"training": training, "scoring": scoring}
