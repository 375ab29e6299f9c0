"""The anatomy ablation's table: one anatomy or three, with and without the
calibrated variation, every method, from the four finished runs of `make demo-ablation`.

    python studies/anatomy_ablation.py results/abl_one results/abl_one_varied \\
        results/abl_several results/abl_several_varied [--out docs-table.md]

Per run (an arm): its demo switches (config.resolved.yaml), each method's AUPRC per lesion set from
tables/table1.csv (the "this harness" rows: mean [95 % bootstrap interval over test subjects]), and
Patch2Loc's location fit (last validation error / mean-position error of models/*/fold*/loss.csv).
A second table gives each method's AUPRC relative to the first arm's, per set. A folder that is not a
finished run is refused with one line (exit 2).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from patch2loc.errors import InputError
from patch2loc.evaluation.report.demo_summary import final_location_fits

SETS = ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")
_MEAN = re.compile(r"^\s*(-?[0-9.]+)")


class NotARun(ValueError):
    """A folder given as an arm is not a finished run."""


def read_arm(run: Path) -> dict:
    """{'name', 'anatomies', 'variation', 'auprc': {method: {set: text}}, 'location': {model: ratio}}."""
    config, table = run / "config.resolved.yaml", run / "tables" / "table1.csv"
    for path in (config, table):
        if not path.is_file():
            raise NotARun(f"{run}: no {path.relative_to(run)}; pass the folder of a finished make demo-ablation run.")
    try:
        fits = final_location_fits(run)
    except InputError as err:
        raise NotARun(str(err)) from None
    demo = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("demo", {})
    rows = pd.read_csv(table, dtype=str, keep_default_na=False)
    rows = rows[rows["source"] == "this harness"]
    auprc = {r["method"]: {s: r.get(f"{s} AUPRC", "") for s in SETS} for _, r in rows.iterrows()}
    location = {name: last["val_error"] / last["centre_error"] for name, last in fits.items()}
    return {
        "name": run.name,
        "anatomies": ", ".join(demo.get("anatomies", ["mni152"])),
        "variation": demo.get("variation", "none"),
        "auprc": auprc,
        "location": location,
    }


def mean_of(cell: str) -> float | None:
    """The mean of a "41.47 [23.89, 59.06]" cell (None when empty)."""
    m = _MEAN.match(cell or "")
    return float(m.group(1)) if m else None


def render(arms: list[dict]) -> str:
    """The two markdown tables: AUPRC per arm, then each arm's AUPRC over the first arm's."""
    methods = list(dict.fromkeys(m for a in arms for m in a["auprc"]))
    head = "| method | arm | anatomies | variation | " + " | ".join(f"{s} AUPRC" for s in SETS) + " |"
    lines = [head, "|" + " --- |" * (4 + len(SETS))]
    for method in methods:
        for a in arms:
            cells = [a["auprc"].get(method, {}).get(s, "") or "-" for s in SETS]
            lines.append(
                f"| {method} | {a['name']} | {a['anatomies']} | {a['variation']} | " + " | ".join(cells) + " |"
            )
    base = arms[0]
    lines += ["", f"AUPRC relative to `{base['name']}` (mean over mean):", ""]
    lines += ["| method | " + " | ".join(a["name"] for a in arms[1:]) + " |", "|" + " --- |" * len(arms)]
    for method in methods:
        cells = []
        for a in arms[1:]:
            ratios = []
            for s in SETS:
                new = mean_of(a["auprc"].get(method, {}).get(s, ""))
                old = mean_of(base["auprc"].get(method, {}).get(s, ""))
                ratios.append(f"{new / old:.2f}" if new is not None and old else "-")
            cells.append(" / ".join(ratios))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", "(per cell: " + " / ".join(SETS) + ")", "", "Patch2Loc's location error / mean-position error:", ""]
    models = list(dict.fromkeys(m for a in arms for m in a["location"]))
    lines += ["| arm | " + " | ".join(models) + " |", "|" + " --- |" * (1 + len(models))]
    for a in arms:
        lines.append(
            f"| {a['name']} | " + " | ".join(f"{a['location'].get(m, float('nan')):.3f}" for m in models) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="the arms' run folders; the first is the baseline")
    parser.add_argument("--out", type=Path, help="also write the tables to this file (a new file)")
    args = parser.parse_args(argv)
    if args.out is not None and args.out.exists():
        print(f"{args.out}: exists; name a new file for the table.", file=sys.stderr)
        return 2
    try:
        text = render([read_arm(run) for run in args.runs])
    except NotARun as err:
        print(err, file=sys.stderr)
        return 2
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
