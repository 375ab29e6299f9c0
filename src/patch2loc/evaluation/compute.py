"""Compute time per stage from Snakemake's `benchmark:` files: jobs, wall-clock hours, GPU-hours.

A benchmark file (tab-separated, one row per run of the job) lies at
`benchmarks/{rule}/{name}.tsv`; its `s` column is the job's wall-clock seconds. A job of a rule
that declares gpu=1 counts its hours as GPU-hours; Thresh jobs (name starting with `Thresh_`)
never hold a GPU, whatever folder they share.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from patch2loc.io import InputError


def read_benchmark(path: str | os.PathLike) -> float:
    """Wall-clock seconds of one job (the mean when Snakemake repeated it)."""
    try:
        df = pd.read_csv(path, sep="\t")
        return float(df["s"].mean())
    except Exception as exc:  # missing column, empty or unreadable file
        raise InputError(f"{path}: not a Snakemake benchmark file ({exc}); delete it and rerun its job.") from exc


def compute_per_stage(benchmarks: Iterable[str | os.PathLike], gpu_rules: Iterable[str]) -> pd.DataFrame:
    """One row per stage (the benchmark's folder, i.e. the rule family) plus a total row."""
    gpu_rules = set(gpu_rules)
    rows = []
    for path in map(Path, benchmarks):
        stage = path.parent.name
        seconds = read_benchmark(path)
        gpu = stage in gpu_rules and not path.name.startswith("Thresh_")
        rows.append({"stage": stage, "jobs": 1, "hours": seconds / 3600, "gpu_hours": seconds / 3600 if gpu else 0.0})
    if not rows:
        raise InputError("compute_per_stage: no benchmark files given; check the workflow's input list.")
    per_stage = pd.DataFrame(rows).groupby("stage", sort=False, as_index=False).sum()
    total = pd.DataFrame([{"stage": "total", **per_stage[["jobs", "hours", "gpu_hours"]].sum().to_dict()}])
    out = pd.concat([per_stage, total], ignore_index=True)
    out["jobs"] = out["jobs"].astype(int)
    return out.round({"hours": 4, "gpu_hours": 4})
