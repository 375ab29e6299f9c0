"""The demo's results as the README shows them, computed from a finished run (never typed by hand).

    python -m patch2loc.evaluation.demo_summary results/demo [--markdown-only] [--readme README.md]

Prints (1) the README's demo table: best Dice / AUPRC in % per lesion set, Thresh and Patch2Loc
(mean ± sample std over folds), from `tables/per_volume_metrics.csv`; (2) the demo's checks
(issue 13): every model's final validation location error <= 0.35 x the error of always
predicting the mean position (`models/*/fold*/loss.csv`), and Patch2Loc's AUPRC (mean over folds)
>= 2 x Thresh's on MSLUB, ATLAS_v2 and WMH. Exit status 1 when a check fails, 2 on bad input.
With `--readme`, the table also replaces the block between the README's demo-table markers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from patch2loc.io import InputError
from patch2loc.evaluation.tables import DATASET_ORDER, aggregate_folds, format_mean_std, read_csvs

LOCATION_RATIO = 0.35  # final val location error / mean-position error must be at most this
AUPRC_RATIO = 2.0  # Patch2Loc AUPRC / Thresh AUPRC must be at least this on the small-lesion sets
AUPRC_SETS = ("MSLUB", "ATLAS_v2", "WMH")


def readme_markers(block: str = "demo-table") -> tuple[str, str]:
    """The comment pair around a README block (e.g. demo-table, demo-long-table)."""
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


def demo_table(run_dir: str | Path) -> tuple[str, pd.DataFrame]:
    """(markdown table, aggregated rows) from a run's per-volume metrics."""
    path = Path(run_dir) / "tables" / "per_volume_metrics.csv"
    metrics = read_csvs([path])
    agg = aggregate_folds(metrics, ["best_dice", "auprc"])
    datasets = [d for d in DATASET_ORDER if d in set(agg["dataset"])]
    lines = ["| | " + " | ".join(datasets) + " |", "| --- |" + " --- |" * len(datasets)]
    for method in ("Thresh", "Patch2Loc"):
        cells = []
        for d in datasets:
            pair = []
            for metric in ("best_dice", "auprc"):
                row = agg[(agg["method"] == method) & (agg["dataset"] == d) & (agg["metric"] == metric)]
                pair.append(format_mean_std(row["mean"].iloc[0], row["std"].iloc[0]) if len(row) else "n/a")
            cells.append(" / ".join(pair))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines), agg


def location_checks(run_dir: str | Path) -> list[tuple[str, bool, str]]:
    """(name, passed, detail) per model: last row's val_error against LOCATION_RATIO x centre_error."""
    losses = sorted(Path(run_dir).glob("models/*/fold*/loss.csv"))
    if not losses:
        raise InputError(f"{run_dir}: no models/*/fold*/loss.csv; pass the folder of a finished run.")
    checks = []
    for path in losses:
        last = pd.read_csv(path).iloc[-1]
        ratio = last["val_error"] / last["centre_error"]
        name = f"{path.parents[1].name} {path.parent.name}"
        checks.append((f"location error {name}", ratio <= LOCATION_RATIO,
                       f"{last['val_error']:.2f} % vs mean-position {last['centre_error']:.2f} % "
                       f"(ratio {ratio:.2f}, must be <= {LOCATION_RATIO}) at step {int(last['step'])}"))
    return checks


def auprc_checks(agg: pd.DataFrame) -> list[tuple[str, bool, str]]:
    checks = []
    for d in AUPRC_SETS:
        get = lambda m: agg[(agg["method"] == m) & (agg["dataset"] == d) & (agg["metric"] == "auprc")]["mean"]  # noqa: E731
        ours, thresh = get("Patch2Loc"), get("Thresh")
        if ours.empty or thresh.empty:
            checks.append((f"AUPRC {d}", False, "not in this run"))
            continue
        ratio = ours.iloc[0] / thresh.iloc[0] if thresh.iloc[0] > 0 else float("inf")
        checks.append((f"AUPRC {d}", ratio >= AUPRC_RATIO,
                       f"Patch2Loc {100 * ours.iloc[0]:.2f} % vs Thresh {100 * thresh.iloc[0]:.2f} % "
                       f"(ratio {ratio:.2f}, must be >= {AUPRC_RATIO})"))
    return checks


def write_readme_table(readme: str | Path, table: str, block: str = "demo-table") -> None:
    """Replace the block between the markers of `block` with `table`; nothing else in the file changes."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    start, end = readme_markers(block)
    if start not in text or end not in text:
        raise InputError(f"{readme}: no {start} ... {end} block; put the markers around the demo table.")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    readme.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a finished run, e.g. results/demo")
    ap.add_argument("--markdown-only", action="store_true", help="print the table only")
    ap.add_argument("--readme", help="also write the table between this README's block markers")
    ap.add_argument("--block", default="demo-table",
                    help="the README block to replace: <!-- BLOCK:start --> ... <!-- BLOCK:end --> (default: demo-table)")
    args = ap.parse_args(argv)
    try:
        table, agg = demo_table(args.run_dir)
        checks = [] if args.markdown_only else location_checks(args.run_dir) + auprc_checks(agg)
        if args.readme:
            write_readme_table(args.readme, table, args.block)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table)
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
