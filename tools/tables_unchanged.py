"""Are an earlier run's table cells all in a later run's tables, unchanged? (adding model inputs
must leave the paper's single-contrast rows as they were, byte for byte)

    python tools/tables_unchanged.py results_before/demo_long results/demo_long

For every tables/*.csv of the earlier run: each of its rows must be a row of the later table (same
text in every column the earlier table has; the later one may add rows, and columns such as "BraTS21
[T1T2]"); rows are matched on their first columns (the keys: method, dataset, grouping, ...) and read as
text, so "52.75 [38.89, 64.12]" must be the same characters. compute.csv (the jobs' wall times) is
left out. Prints one line per table and exits 1 when a cell differs or a row is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

SKIPPED = {"compute.csv": "the jobs' wall times"}


def compare(before: Path, after: Path) -> tuple[bool, str]:
    """(unchanged, one line) for one table of the earlier run against the later run's."""
    if not after.is_file():
        return False, f"{after.name}: missing from the later run"
    old = pd.read_csv(before, dtype=str, keep_default_na=False)
    new = pd.read_csv(after, dtype=str, keep_default_na=False)
    lost = [c for c in old.columns if c not in new.columns]
    if lost:
        return False, f"{before.name}: columns {lost} missing from the later table"
    later = set(map(tuple, new[list(old.columns)].to_numpy()))
    missing = [row for row in map(tuple, old.to_numpy()) if row not in later]
    added = len(new) - len(old) + len(missing)
    extra = [c for c in new.columns if c not in old.columns]
    text = f"{before.name}: {len(old) - len(missing)} of {len(old)} rows unchanged; {added} rows and {len(extra)} columns added"
    if missing:
        text += "; first changed row: " + ", ".join(missing[0])[:160]
    return not missing, text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="the earlier run's folder (its tables/ is read)")
    ap.add_argument("after", help="the later run's folder")
    args = ap.parse_args(argv)
    tables = sorted(Path(args.before, "tables").glob("*.csv"))
    if not tables:
        print(f"error: {args.before}/tables has no csv; pass a finished run's folder.", file=sys.stderr)
        return 2
    ok = True
    for table in tables:
        if table.name in SKIPPED:
            print(f"SKIP  {table.name}: {SKIPPED[table.name]}")
            continue
        same, line = compare(table, Path(args.after, "tables", table.name))
        ok &= same
        print(f"{'SAME' if same else 'DIFF'}  {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
