"""Transfer check: a finished run's T1 models on real contrast-enhanced T1 tumour scans.

The three scans of `rehearsals.real.real_scans` (pyradiomics 3.1.0's brain1 and brain2,
qtim-tools 0.1.12's MRBrainTumor2 with label 1, the tumour, only), each with its ROBEX brain mask,
go through `patch2loc predict --from-run RUN_DIR --method M --mask ROBEX --seg LABEL` once per
trained method M of the run (every fold of the run's config, ensembled as predict does), on the
CPU. predict scores the tumour label on the scan's own grid, inside the brain it evaluates (the
run's atlas-space brain mask mapped back to the native grid); chance is the tumour's share of
that same brain, the AUPRC of a score that ranks voxels at random, so AUPRC / chance says how many
times better than guessing each method finds a real tumour. Which methods, folds and files: the
run's own config.resolved.yaml (`methods`, `folds`), the method registry and patch2loc.run.layout.

    python studies/transfer_real.py results/demo_long [--out DIR]

writes DIR/transfer.csv (one row per method and scan) and DIR/transfer.md (the table of
docs/transfer.md), and prints the table. Exit 2 with one line when RUN_DIR is not a finished run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from patch2loc.run.chainfiles import read_run_config
from patch2loc.errors import InputError
from patch2loc.run.layout import RESULTS, RunLayout
from patch2loc.registry import get
from patch2loc.files.staging import atomic_output

# Run as a script, the checkout's root is not on the path: rehearsals/ sits beside studies/,
# outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rehearsals.real.real_scans import MEMBERS, RealScan, real_scan  # noqa: E402

MODALITY = "T1"  # the real scans are contrast-enhanced T1
FIELDS = "method folds scan auprc chance ratio lesion_voxels brain_voxels robex_chance seconds error".split()
FIX = "pass the folder of a finished run (e.g. results/demo_long after `make demo-long`)"


def trained_models(run_dir: str | Path) -> dict[str, list[int]]:
    """{method: folds} of every trained method of a finished run, from its config and its files."""
    run, layout = Path(run_dir), RunLayout(run_dir)
    if not run.is_dir():
        raise InputError(f"{run}: no such folder; {FIX}.")
    config = Path(layout.config)
    if not config.is_file():
        raise InputError(f"{config}: missing, so {run} is not a run folder; {FIX}.")
    cfg = read_run_config(config, (), FIX)
    methods, folds = cfg.get("methods"), cfg.get("folds")
    if not (isinstance(methods, list) and isinstance(folds, list) and folds):
        raise InputError(f"{config}: no `methods` and `folds` lists; {FIX}.")
    for needed in (layout.report, layout.landmarks(MODALITY), layout.atlas_image):
        if not Path(needed).is_file():
            raise InputError(f"{needed}: missing, so {run} has not finished; {FIX}.")
    models = {}
    for name in methods:
        if not get(str(name)).trains:  # a method without a model: predict has nothing to apply
            continue
        have = layout.fold_checkpoints(MODALITY, name)
        for fold in folds:
            if fold not in have:
                raise InputError(
                    f"{layout.checkpoint(MODALITY, fold, name)}: missing, so {run} has not finished; {FIX}."
                )
        models[name] = sorted(folds)
    if not models:
        raise InputError(f"{config}: `methods` {methods} has no trained method, so no model to apply; {FIX}.")
    return models


def chance(label: np.ndarray, brain: np.ndarray) -> tuple[float, int, int]:
    """(tumour share of the brain, tumour voxels in it, brain voxels): the AUPRC of a random ranking."""
    positives, voxels = int(np.count_nonzero(label & brain)), int(np.count_nonzero(brain))
    return (positives / voxels if voxels else math.nan), positives, voxels


def evaluated_brain(preprocessed: Path, native: Path) -> np.ndarray:
    """The brain predict scored the label in: its atlas-space mask on the native grid (scoring.native_map)."""
    from patch2loc.files.io import load_volume
    from patch2loc.scoring.native import native_map

    mask = load_volume(preprocessed / "mask.nii.gz", kind="brain mask")
    zero = np.zeros(mask.data.shape, np.float32)
    return native_map(zero, mask.data > 0, mask.affine, preprocessed / "transform.tfm", native)[1]


def predict_argv(run: Path, method: str, folds: list[int], scan: RealScan, out: Path, amp: str, force: bool):
    """predict --from-run for one (method, scan): the ROBEX mask with --mask, the tumour with --seg."""
    argv = [sys.executable, "-m", "patch2loc.cli", "predict", "--from-run", str(run), "--method", method,
            "--folds", *map(str, folds), "--modality", MODALITY, "--image", str(scan.image), "--mask", str(scan.mask),
            "--seg", str(scan.label), "--out", str(out), "--overwrite", "--device", "cpu", "--amp", amp, "--quiet"]  # fmt: skip
    return argv + (["--force"] if force else [])


def measure(run: Path, method: str, folds: list[int], scan: RealScan, out: Path, amp: str, force: bool) -> dict:
    """One row: predict's AUPRC on the scan, the chance level of the same brain, the wall time."""
    from patch2loc.files.io import load_volume

    row = {"method": method, "folds": " ".join(map(str, folds)), "scan": scan.scan}
    start = time.perf_counter()
    proc = subprocess.run(predict_argv(run, method, folds, scan, out, amp, force), capture_output=True, text=True)
    row["seconds"] = round(time.perf_counter() - start, 1)
    if proc.returncode != 0:  # a refusal (e.g. intensities outside the training range): said, not scored
        lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
        return {**row, "error": lines[-1]}
    seg = json.loads((out / f"{scan.scan}_summary.json").read_text(encoding="utf-8"))["seg_metrics"]
    label = load_volume(scan.label, kind="lesion mask").data > 0
    level, positives, voxels = chance(label, evaluated_brain(out / f"{scan.scan}_preprocessed", scan.image))
    if positives != seg["lesion_voxels"]:  # the brain here is not the one predict scored in
        raise RuntimeError(f"{out}: {positives} tumour voxels in the brain, predict counted {seg['lesion_voxels']}")
    auprc, robex = float(seg["auprc"]), chance(label, load_volume(scan.mask, kind="brain mask").data > 0)[0]
    ratio = auprc / level if level > 0 else math.nan
    measured = {"auprc": auprc, "chance": level, "ratio": ratio, "lesion_voxels": positives, "brain_voxels": voxels}
    return {**row, **measured, "robex_chance": robex}  # robex_chance: the share of ROBEX's own mask, for comparison


def cell(row: dict | None) -> str:
    if row is None:
        return "not yet measured"
    if row.get("error"):
        return "refused"
    return f"{row['auprc']:.3f} ({row['ratio']:.2f}x)"


def table(rows: list[dict], scans: list[str]) -> str:
    """Markdown: chance per scan, then per method AUPRC (its ratio to chance) and the wall time."""
    by = {(r["method"], r["scan"]): r for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    levels = {s: next((r["chance"] for r in rows if r["scan"] == s and not r.get("error")), None) for s in scans}
    lines = [
        "| method | folds | " + " | ".join(scans) + " | seconds |",
        "| --- | --- |" + " --- |" * len(scans) + " --- |",
        "| chance (tumour share of the brain) | |"
        + "".join(f" {'n/a' if v is None else f'{v:.4f}'} |" for v in levels.values())
        + " |",
    ]
    for m in methods:
        mine = [by.get((m, s)) for s in scans]
        seconds = sum(r["seconds"] for r in mine if r is not None)
        folds = next(r["folds"] for r in mine if r is not None)
        lines.append(f"| {m} | {folds} | " + " | ".join(cell(r) for r in mine) + f" | {seconds:.0f} |")
    refused = [f"{r['method']} on {r['scan']}: {r['error']}" for r in rows if r.get("error")]
    return "\n".join(lines + ([""] + [f"- refused: {x}" for x in refused] if refused else []))


def machine() -> str:
    """The CPU's model name and its cores: what the seconds were measured on."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
        name = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    return f"{name}, {os.cpu_count()} cores"


def write(out: Path, run: Path, rows: list[dict], scans: list[str]) -> str:
    """transfer.csv and transfer.md into `out` (each complete or absent); returns the markdown."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"Run: {run}. Measured {when} on {machine()}.\n\n{table(rows, scans)}\n"
    for name, body in (("transfer.csv", buffer.getvalue()), ("transfer.md", text)):
        with atomic_output(out / name) as tmp:
            tmp.write_text(body, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a finished run, e.g. results/demo_long")
    ap.add_argument("--out", help="where the csv, the table and predict's outputs go (default: results/transfer/RUN)")
    ap.add_argument("--scans", nargs="+", choices=list(MEMBERS), default=list(MEMBERS))
    ap.add_argument("--amp", default="none", choices=("none", "bf16", "auto"), help="predict --amp (none: fp32)")
    ap.add_argument("--force", action="store_true", help="predict --force: score scans outside the training range")
    ap.add_argument("--methods", nargs="+", help="only these of the run's trained methods (default: all of them)")
    args = ap.parse_args(argv)
    run = Path(args.run_dir)
    out = Path(args.out) if args.out else Path(RESULTS, "transfer", run.resolve().name)
    try:
        models = trained_models(run)
        unknown = sorted(set(args.methods or ()) - set(models))
        if unknown:
            raise InputError(f"--methods {unknown}: not trained methods of {run} (those are {sorted(models)}).")
        models = {m: f for m, f in models.items() if not args.methods or m in args.methods}
        if out.resolve().is_relative_to(run.resolve()):
            raise InputError(f"{out}: inside the run folder {run}, which predict reads whole; choose another --out.")
        scans = []
        for name in args.scans:
            got = real_scan(name, out / "scans")
            if isinstance(got, str):
                print(f"transfer_real: the real scans are not available: {got}", file=sys.stderr)
                return 1
            scans.append(got)
    except InputError as exc:
        print(f"transfer_real: error: {exc}", file=sys.stderr)
        return 2
    rows = []
    for method, folds in models.items():
        for scan in scans:
            rows.append(measure(run, method, folds, scan, out / "predict" / method, args.amp, args.force))
            print(f"{method} {scan.scan}: {cell(rows[-1])} in {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    print(write(out, run, rows, args.scans))
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
