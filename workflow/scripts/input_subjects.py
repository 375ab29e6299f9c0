"""Rule input_subjects: an input of several contrasts, its IXI subjects per (fold, split) and those left
out of it for lacking a contrast (the table the report can show; the count also goes to the log)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import pandas as pd

from patch2loc.files.io import write_csv

rows = pd.DataFrame(snakemake.params.rows)
write_csv(rows, snakemake.output.table)
for row in rows.itertuples():
    where = f"fold {row.fold} {row.split}" if row.fold != "" else row.split
    print(
        f"{row.input} {where}: {row.subjects} subjects, {row.left_out} left out for lacking a contrast {row.left_out_subjects}"
    )
