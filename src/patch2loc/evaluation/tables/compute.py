"""Compute time per stage and method from Snakemake's `benchmark:` files: jobs, hours, GPU-hours.

A benchmark file (tab-separated, one row per run of the job) lies at
`benchmarks/{rule}/{method}_{...}.tsv`: the folder is the stage (the rule), the file name starts
with the method the job ran. Its `s` column is the job's wall-clock seconds. The hours of a job
of a method whose jobs ask for a GPU count as GPU-hours (also when the job ran on a CPU).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from patch2loc.errors import InputError


def read_benchmark(path: str | os.PathLike) -> float:
    """Wall-clock seconds of one job (the mean when Snakemake repeated it)."""
    try:
        df = pd.read_csv(path, sep="\t")
        return float(df["s"].mean())
    except Exception as exc:  # missing column, empty or unreadable file
        raise InputError(f"{path}: not a Snakemake benchmark file ({exc}); delete it and rerun its job.") from exc


def compute_per_stage(benchmarks: Iterable[str | os.PathLike], gpu_methods: Iterable[str]) -> pd.DataFrame:
    """One row per (stage, method) in file order, plus a total row (method empty)."""
    gpu_methods = set(gpu_methods)
    rows = []
    for path in map(Path, benchmarks):
        method = path.stem.split("_", 1)[0]
        hours = read_benchmark(path) / 3600
        rows.append(
            {
                "stage": path.parent.name,
                "method": method,
                "jobs": 1,
                "hours": hours,
                "gpu_hours": hours if method in gpu_methods else 0.0,
            }
        )
    if not rows:
        raise InputError("compute_per_stage: no benchmark files given; check the workflow's input list.")
    per_stage = pd.DataFrame(rows).groupby(["stage", "method"], sort=False, as_index=False).sum()
    total = pd.DataFrame(
        [{"stage": "total", "method": "", **per_stage[["jobs", "hours", "gpu_hours"]].sum().to_dict()}]
    )
    out = pd.concat([per_stage, total], ignore_index=True)
    out["jobs"] = out["jobs"].astype(int)
    return out.round({"hours": 4, "gpu_hours": 4})
