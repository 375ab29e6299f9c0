"""Rule table1: Table 1 (Dice, AUPRC; every method of the run, then the published rows), the
supplementary table, their intervals as numbers (table1_intervals.csv) and native against atlas
space (table1_spaces: empty for an atlas-only run); their captions come from
the rule (patch2loc.evaluation.report.captions)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.files.io import write_csv
from patch2loc.evaluation.tables.space_table import space_table
from patch2loc.evaluation.tables.aggregate import interval_table, read_csvs
from patch2loc.evaluation.tables.table1 import table1, table1_supplementary
from patch2loc.evaluation.tables.uncertainty import Bootstrap
from patch2loc.evaluation.tables.files import write_table

out, captions = snakemake.output, snakemake.params.captions
boot = Bootstrap.from_config(snakemake.params.bootstrap)
metrics = read_csvs(snakemake.input.metrics)
write_csv(metrics, out.per_volume)
write_table(
    table1(metrics, snakemake.input.published, boot=boot), out.table[0][: -len(".csv")], caption=captions["table1"]
)
write_table(
    table1_supplementary(metrics, boot=boot),
    out.supplementary[0][: -len(".csv")],
    caption=captions["table1_supplementary"],
)
dice = ["best_dice", "dice_unsup", *(["dice_val"] if "dice_val" in metrics else [])]  # the Dice three ways
write_csv(interval_table(metrics, ["auprc", "auroc", *dice], boot), out.intervals)
write_table(space_table(metrics, boot), out.spaces[0][: -len(".csv")], caption=captions["table1_spaces"])
