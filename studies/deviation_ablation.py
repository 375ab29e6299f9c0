"""What each deviation of RA, PHANES and FAE from their references costs: the deviation ablation's
table, from `make demo-long`'s run and the finished arms of `make demo-deviations`.

    python studies/deviation_ablation.py results/demo_long results/dev_full_range ... [--out table.md]

An arm is the long demo's run with one reference convention switched on (config/ablation/
deviation_*.yaml; networks/inputs.py) for the methods it concerns, on the T1 and T2 inputs. Per arm, method
and lesion set: AUPRC (%) under the authors' protocol (ref_auprc of tables/per_volume_metrics.csv)
and under the shared one (auprc), the long demo's value, the arm's, and the paired difference (arm
minus long demo) with its 95 % bootstrap interval over test subjects (each subject's mean over
folds; evaluation.tables.uncertainty). A folder that is not a finished run is refused with one line
(exit 2); so is an arm whose methods the long demo did not score.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from patch2loc.evaluation.tables.files import to_markdown
from patch2loc.evaluation.tables.uncertainty import Bootstrap, bootstrap_interval, subject_means

KEYS = ["method", "modality", "dataset"]
COLUMNS = {"ref_auprc": "authors' protocol", "auprc": "shared protocol"}
BLOCKS = ("ra", "phanes", "fae")
SWITCHES = ("intensity", "axial_range", "equalise", "train_threshold", "val_threshold")


class NotARun(ValueError):
    """A folder given is not a finished run."""


def read_run(run: Path) -> tuple[pd.DataFrame, dict]:
    """(per-volume metrics, resolved config) of a finished run."""
    metrics, config = run / "tables" / "per_volume_metrics.csv", run / "config.resolved.yaml"
    for path in (metrics, config):
        if not path.is_file():
            raise NotARun(
                f"{run}: no {path.relative_to(run)}; pass the folder of a finished run (make demo-deviations)."
            )
    return pd.read_csv(metrics), yaml.safe_load(config.read_text(encoding="utf-8")) or {}


def switches(config: dict, base: dict) -> str:
    """The arm's settings that differ from the long demo's, e.g. "fae.equalise: True"."""
    changed = []
    for block in BLOCKS:
        mine, theirs = config.get(block) or {}, base.get(block) or {}
        changed += [f"{block}.{k}: {mine[k]}" for k in SWITCHES if k in mine and mine[k] != theirs.get(k)]
    return "; ".join(changed) or "none"


def subject_values(metrics: pd.DataFrame, column: str) -> pd.Series:
    """Per (method, modality, dataset, subject): the mean over folds of `column`, in percent."""
    numeric = metrics.assign(**{column: pd.to_numeric(metrics[column], errors="coerce")})
    return subject_means(numeric, column, KEYS).set_index([*KEYS, "subject"])[column] * 100


def cell(values, boot: Bootstrap, *key) -> str:
    """ "mean [low, high]" of paired differences."""
    values = np.asarray(values, float)
    low, high = bootstrap_interval(values, boot, *key)
    return f"{np.nanmean(values):+.2f} [{low:+.2f}, {high:+.2f}]"


def arm_rows(name: str, arm: pd.DataFrame, base: pd.DataFrame, switched: str, boot: Bootstrap) -> list[dict]:
    """One row per (method, modality, dataset) the arm scored."""
    rows = []
    for column, protocol in COLUMNS.items():
        if column not in arm or column not in base:
            continue
        mine, theirs = subject_values(arm, column), subject_values(base, column)
        for key, group in mine.groupby(level=KEYS):
            paired = pd.concat([group, theirs.reindex(group.index)], axis=1, keys=["arm", "base"]).dropna()
            if paired.empty:
                raise NotARun(
                    f"{name}: the long demo scored no {key[0]} ({key[1]}) on {key[2]}; run make demo-long first."
                )
            rows.append(
                {
                    "arm": name,
                    "switch": switched,
                    "method": key[0],
                    "modality": key[1],
                    "dataset": key[2],
                    "protocol": protocol,
                    "long demo": round(paired["base"].mean(), 2),
                    "arm value": round(paired["arm"].mean(), 2),
                    "arm - long demo [95 % CI]": cell(paired["arm"] - paired["base"], boot, name, *key, column),
                    "subjects": len(paired),
                }
            )
    return rows


def table(base_run: Path, arm_runs: list[Path]) -> pd.DataFrame:
    base, base_config = read_run(base_run)
    boot = Bootstrap.from_config((base_config.get("evaluate") or {}).get("bootstrap"))
    rows = []
    for run in arm_runs:
        arm, config = read_run(run)
        rows += arm_rows(run.name, arm, base, switches(config, base_config), boot)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the finished make demo-long run (results/demo_long)")
    parser.add_argument("arms", type=Path, nargs="+", help="the finished arms (results/dev_*)")
    parser.add_argument("--out", type=Path, help="also write the table here (markdown; .csv beside it)")
    args = parser.parse_args(argv)
    try:
        frame = table(args.base, args.arms)
    except NotARun as err:
        print(f"deviation_ablation: {err}", file=sys.stderr)
        return 2
    text = to_markdown(frame)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        frame.to_csv(args.out.with_suffix(".csv"), index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
