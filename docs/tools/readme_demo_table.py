"""Write the README's demo table from a run's Table 1, so the numbers are never typed by hand.

    python docs/tools/readme_demo_table.py results/demo/tables/table1.csv           # print it
    python docs/tools/readme_demo_table.py results/demo/tables/table1.csv README.md # replace it

The table lies between the README's `<!-- demo-table:start -->` and `<!-- demo-table:end -->`
lines; one row per method of "this run", each cell "best Dice / AUPRC" (%).
"""
import sys
from pathlib import Path

import pandas as pd

START, END = "<!-- demo-table:start -->", "<!-- demo-table:end -->"
DATASETS = ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")


def demo_table(table1_csv: str | Path) -> str:
    table = pd.read_csv(table1_csv, dtype=str, keep_default_na=False)
    ours = table[table["source"] == "this run"]
    if ours.empty:
        sys.exit(f"{table1_csv}: no 'this run' rows; pass a run's tables/table1.csv")
    lines = ["| | " + " | ".join(DATASETS) + " |", "| --- |" + " --- |" * len(DATASETS)]
    for row in ours.to_dict("records"):
        cells = [f"{row[f'{d} Dice']} / {row[f'{d} AUPRC']}" for d in DATASETS]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_block(readme: Path, block: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        sys.exit(f"{readme}: markers {START} / {END} not found; put them around the demo table")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{block}\n{END}{tail}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    block = demo_table(sys.argv[1])
    if len(sys.argv) == 3:
        replace_block(Path(sys.argv[2]), block)
    print(block)
