"""Rule table2: Spearman correlation of lesion fraction with each method's outputs (Patch2Loc:
log-error, log-variance, score; the other methods: their score).

Each patches.csv.gz is one (method, dataset, modality, fold): the per-fold correlations are
computed one file at a time, reading only the columns they need, so memory holds one file, not
every patch of the run (about 20 M rows per method at paper scale).
"""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import pandas as pd
from patch2loc.evaluation.patches.statistics import TABLE2_COLUMNS, spearman_per_fold, summarise_spearman
from patch2loc.evaluation.tables.table2 import table2
from patch2loc.evaluation.tables.aggregate import read_csvs
from patch2loc.evaluation.tables.files import write_table
from patch2loc.files.io import write_csv

per_fold = pd.concat(
    [
        spearman_per_fold(read_csvs([path], required=("dataset", "fold", "lesion_fraction"), usecols=TABLE2_COLUMNS))
        for path in snakemake.input.patches
    ],
    ignore_index=True,
)
per_fold = per_fold.sort_values(["method", "dataset", "modality", "fold"], kind="stable").reset_index(drop=True)
write_csv(per_fold, snakemake.output.per_fold)
write_table(
    table2(summarise_spearman(per_fold), snakemake.input.published),
    snakemake.output.table[0][: -len(".csv")],
    caption=snakemake.params.caption,  # patch2loc.evaluation.report.captions
)
