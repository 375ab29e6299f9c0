"""GPU benchmark at the paper's scale: Patch2Loc's and the competitors' training and scoring, predict
end to end, and the paper run's GPU hours that follow (docs/gpu.md).

Needs only torch and numpy on the GPU machine (plus the package's own dependencies for `predict`);
synthetic brains stand in for data (shape matters for speed, not content). Prints a table and writes
JSON with the device, driver and versions. Each measure is guarded: one that fails is recorded
and the others go on; past --budget-s the rest is skipped and says so.

    python benchmarks/bench_gpu.py --out gpu.json              # a CUDA GPU, the paper's sizes
    python benchmarks/bench_gpu.py --tiny --out tiny.json      # any CPU, tiny sizes (the test's mode)
    python benchmarks/bench_gpu.py --merge a.json b.json --out all.json   # records of parts run apart
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from gpu import hours, job_part, methods_part, patch2loc_part, predict_part, report
from gpu.common import Sizes, guarded
from patch2loc.checks.devices import resolve_device
from patch2loc.registry import METHODS

PARTS = ("patch2loc_training", "heatmap", "methods", "job", "predict")
COMPETITORS = (*methods_part.FAMILIES, methods_part.PRETRAIN)


def environment(device: torch.device) -> dict:
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "device": str(device),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
        env["driver"] = nvidia_smi("driver_version")
        env["tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
    return env


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def nvidia_smi(field: str) -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny sizes on any device (a CPU check of every path)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, required=True, help="the JSON record")
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    ap.add_argument("--methods", nargs="+", default=None, choices=COMPETITORS, help="default: all (tiny: no variants)")
    ap.add_argument(
        "--budget-s", type=float, default=None, help="measures not started by then are skipped (420; tiny 1800)"
    )
    ap.add_argument("--merge", type=Path, nargs="+", help="records of runs of some parts each: one record and table")
    ap.add_argument("--map-steps", type=int, default=None, help="training steps of the model whose maps are compared")
    ap.add_argument("--measures", nargs="+", default=["training", "scoring"], choices=["training", "scoring"])
    ap.add_argument("--precisions", nargs="+", default=list(methods_part.PRECISIONS), choices=methods_part.PRECISIONS)
    ap.add_argument("--train-variants", nargs="+", default=list(patch2loc_part.TRAIN_VARIANTS))
    ap.add_argument("--repeats", type=int, default=1, help="Patch2Loc's training rates timed this many times each")
    ap.add_argument("--job-methods", nargs="+", default=["Patch2Loc", "AE"], help="scoring jobs timed end to end")
    ap.add_argument("--job-volumes", type=int, default=None, help="volumes per timed scoring job")
    ap.add_argument("--graders", type=int, default=6, help="a timed scoring job's grading threads")
    args = ap.parse_args(argv)

    if args.merge:
        return finish(merged([json.loads(p.read_text(encoding="utf-8")) for p in args.merge]), args.out)
    deadline = time.monotonic() + (args.budget_s or (1800.0 if args.tiny else 420.0))
    if args.methods is None:  # a tiny run checks the code paths: an offline variant's are its paper method's
        args.methods = [m for m in COMPETITORS if not (args.tiny and m in METHODS and METHODS[m].variant_of)]
    sizes = Sizes.small() if args.tiny else Sizes.paper()
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes, as the trainers set it
    else:
        torch.set_num_threads(1)
    record = {"environment": environment(device), "sizes": sizes.__dict__, "results": {}}
    print(json.dumps(record["environment"]), flush=True)
    res = record["results"]

    def save() -> None:  # after every part: a run stopped by a time limit keeps what it measured
        record["gpu_hours"] = hours.paper_run(res)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")

    if "patch2loc_training" in args.parts:
        train = lambda: patch2loc_part.training_rates(sizes, device, args.train_variants, args.repeats)  # noqa: E731
        guarded("patch2loc_training", train, res, deadline)
        save()
    if "heatmap" in args.parts:
        steps = args.map_steps if args.map_steps is not None else (2 if sizes.tiny else 200)
        guarded("heatmap", lambda: patch2loc_part.heatmaps(sizes, device, steps), res, deadline)
        save()
    if "methods" in args.parts:
        methods = res.setdefault("methods", {})
        methods_part.competitors(sizes, device, args.methods, methods, deadline, save, args.measures, args.precisions)
    if "job" in args.parts:
        volumes = args.job_volumes or (2 if sizes.tiny else 6)
        rows = res.setdefault("job", {})
        job = lambda: job_part.scoring_jobs(sizes, device, args.job_methods, volumes, args.graders, rows, save)  # noqa: E731
        guarded("job", job, res, deadline)
        save()
    if "predict" in args.parts:
        guarded("predict", lambda: predict_part.predict_one(sizes, device), res, deadline)
    save()
    return finish(record, args.out)


def merged(records: list[dict]) -> dict:
    """One record of several runs on one device (each of some parts, or some methods): later runs'
    measures are laid over the earlier ones' (a part's keys; a method's measures), so a run that
    re-measured some keeps the others; the devices must be the same."""
    devices = {(r["environment"].get("gpu"), r["environment"]["device"]) for r in records}
    if len(devices) > 1:
        raise SystemExit(f"bench_gpu --merge: the records come from different devices {sorted(devices, key=str)}")
    out = {**records[0], "merged_from": [r["environment"]["date"] for r in records], "results": {}}
    for record in records:
        for part, value in record["results"].items():
            if part == "methods":
                for method, measures in value.items():
                    kept = {k: v for k, v in measures.items() if "skipped" not in v}
                    out["results"].setdefault("methods", {}).setdefault(method, {}).update(kept)
            elif "skipped" not in value:
                out["results"].setdefault(part, {}).update(value)
    return out


def finish(record: dict, out: Path) -> int:
    record["gpu_hours"] = hours.paper_run(record["results"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")
    print(report.table(record))
    failed = report.failures(record)
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
