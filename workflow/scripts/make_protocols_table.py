"""Rule protocols: tables/protocols.csv, every method under the shared and its reference protocol
beside the published row (patch2loc.evaluation.tables.protocol_table, docs/protocols.md)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import pandas as pd

from patch2loc.evaluation.dataset.pooled import read_pooled
from patch2loc.evaluation.tables.protocol_table import CAPTION, protocol_table
from patch2loc.evaluation.tables.files import write_table
from patch2loc.evaluation.tables.aggregate import read_csvs

metrics = read_csvs(snakemake.input.metrics, required=("method", "modality", "fold", "dataset", "subject", "auprc"))
pooled = [read_pooled(p) for p in snakemake.input.pooled]
table = protocol_table(metrics, pd.read_csv(snakemake.input.published), pooled)
write_table(table, snakemake.output.table[0][: -len(".csv")], caption=CAPTION)
print(f"protocols: {len(table)} rows")
