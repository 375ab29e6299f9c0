"""What the lesion-wise stage adds to a run: seconds per scoring job and in all, beside the jobs.

Reads a finished run with every heatmap kept (the demo: evaluate.keep_heatmaps -1) and times, in
this process, what the scoring jobs now do on top of scoring: `lesion_metrics` of each lesion-set
volume at its unsupervised threshold, and, in a BraTS job only, the import of surface-distance for
the BraTS 2023 surface elements (in a fresh Python that has imported what a scoring job of that
method imports before, CPU seconds; median of 3). The new rules' own seconds come
from their benchmark files (table3, bias). Printed beside them: each scoring job's own seconds
(its benchmark file, the same run), and the share of a whole `make demo` (--demo-seconds: a
measured wall-clock time of make demo; the added seconds are summed as if nothing ran in parallel,
an upper bound on 2 cores).

    python benchmarks/bench_lesion_stage.py results/demo --demo-seconds 819
    python benchmarks/bench_lesion_stage.py --tiny WORKDIR   # a run of two 8 x 8 x 4 scans made in WORKDIR (CI)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.compute import read_benchmark
from patch2loc.evaluation.lesionwise.rule import LesionRule
from patch2loc.evaluation.lesionwise.volume import lesion_metrics
from patch2loc.files.io import load_case, load_volume
from patch2loc.run.layout import RunLayout

# What a scoring job has imported when it first calls lesion_metrics, then surface-distance (a BraTS
# job's challenge metrics): its CPU seconds.
IMPORT = """import resource, torch
from patch2loc.registry import implementation
from patch2loc.scoring import score_scan
from patch2loc.evaluation.dataset import score_dataset
from patch2loc.evaluation.patches import statistics
from patch2loc.scoring import metrics
implementation({method!r})
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
t = cpu()
import surface_distance.lookup_tables
print(cpu() - t)"""


def import_seconds(method: str, repeats: int = 3) -> float:
    code = IMPORT.format(method=method)
    return statistics.median(
        float(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
        )
        for _ in range(repeats)
    )


def tiny_run(folder: Path) -> Path:
    """A finished run's files this benchmark reads, for one lesion set of two small scans."""
    import nibabel as nib

    run = folder / "results" / "tiny"
    layout, rng = RunLayout(run), np.random.default_rng(0)
    subjects = ["s1", "s2"]
    for subject in subjects:
        seg = np.zeros((8, 8, 4), np.uint8)
        seg[2:4, 2:4, 1:3] = 1
        files = {
            layout.normalized("BraTS21", "T2", subject): rng.random((8, 8, 4)).astype(np.float32),
            layout.preprocessed("BraTS21", "T2", subject, "mask.nii.gz"): np.pad(
                np.ones((6, 6, 4), np.uint8), ((1, 1), (1, 1), (0, 0))
            ),
            layout.preprocessed("BraTS21", "T2", subject, "seg.nii.gz"): seg,
            Path(layout.scores("heatmaps", "Patch2Loc", "T2", "fold0", "BraTS21"), f"{subject}.nii.gz"): seg * 2.0,
        }
        for path, data in files.items():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    metrics = Path(layout.scores("metrics.csv", "Patch2Loc", "T2", "fold0", "BraTS21"))
    pd.DataFrame({"subject": subjects, "unsup_threshold": [1.0, 1.0]}).to_csv(metrics, index=False)
    return run


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, nargs="?", help="a finished run's folder")
    ap.add_argument("--demo-seconds", type=float, default=None, help="a measured make demo wall-clock time")
    ap.add_argument("--tiny", type=Path, metavar="WORKDIR", help="time a tiny run made in WORKDIR instead (CI)")
    args = ap.parse_args(argv)
    if (args.run is None) == (args.tiny is None):
        ap.error("give a run folder or --tiny WORKDIR")
    if args.tiny:
        args.run = tiny_run(args.tiny)
    layout, rule = RunLayout(args.run), LesionRule()
    surfaces = {}
    rows = []
    for metrics_csv in sorted(args.run.glob("scores/*/*/*/*/metrics.csv")):
        keys = RunLayout.parse(metrics_csv, "scores")
        dataset, fold, modality, method = (keys[k] for k in ("dataset", "fold", "modality", "method"))
        if dataset == "IXI":
            continue
        seconds = 0.0
        for rec in pd.read_csv(metrics_csv, dtype={"subject": str}).itertuples():
            case = load_case(
                layout.normalized(dataset, modality, rec.subject),
                layout.preprocessed(dataset, modality, rec.subject, "mask.nii.gz"),
                layout.preprocessed(dataset, modality, rec.subject, "seg.nii.gz"),
            )
            heatmaps = layout.scores("heatmaps", method, modality, fold, dataset)
            score = load_volume(Path(heatmaps, f"{rec.subject}.nii.gz")).data
            t0 = time.perf_counter()
            lesion_metrics(
                (score >= rec.unsup_threshold) & case.mask,
                case.seg & case.mask,
                np.linalg.norm(case.image.affine[:3, :3], axis=0),
                rule,
            )
            seconds += time.perf_counter() - t0
        job = f"{method}_{modality}_{fold}_{dataset}"
        bench = Path(layout.benchmark("score_lesions", method, modality, fold, dataset, "0"))
        imports_surfaces = dataset == "BraTS21"  # the only set whose challenge metrics need surface elements
        if imports_surfaces:
            surfaces.setdefault(method, import_seconds(method, repeats=1 if args.tiny else 3))
        rows.append(
            {
                "job": job,
                "volumes": rec.Index + 1,
                "lesionwise_s": round(seconds, 3),
                "surfaces_import_s": round(surfaces[method], 3) if imports_surfaces else 0.0,
                "job_s": read_benchmark(bench) if bench.exists() else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    table["added_share"] = ((table["lesionwise_s"] + table["surfaces_import_s"]) / table["job_s"]).round(3)
    print(table.to_string(index=False))
    rules = {
        name: read_benchmark(p) for name in ("table3", "bias") if (p := Path(layout.benchmark(name, name))).exists()
    }
    added = table["lesionwise_s"].sum() + table["surfaces_import_s"].sum() + sum(rules.values())
    print(f"rules: {rules}; added in all: {added:.1f} s (scoring jobs' own: {table['job_s'].sum():.1f} s)")
    if args.demo_seconds:
        print(f"share of make demo ({args.demo_seconds:.0f} s): {100 * added / args.demo_seconds:.1f} %")


if __name__ == "__main__":
    main()
