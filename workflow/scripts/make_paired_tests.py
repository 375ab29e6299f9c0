"""Rule paired_tests: the registry's first method against every other one, volume by volume (Wilcoxon
signed-rank, Holm); its caption comes from the rule (patch2loc.evaluation.report.captions)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.comparisons.paired import OPTIONAL_METRICS, PAIRED_METRICS, paired_tests
from patch2loc.evaluation.tables.aggregate import read_csvs
from patch2loc.evaluation.tables.files import write_table
from patch2loc.evaluation.tables.uncertainty import Bootstrap

params = snakemake.params
required = ("method", "modality", "fold", "dataset", "subject", "region", *PAIRED_METRICS)
metrics = read_csvs(snakemake.input.metrics, required=required, usecols=[*required, *OPTIONAL_METRICS])
table = paired_tests(metrics, params.reference, Bootstrap.from_config(params.bootstrap))
write_table(table, snakemake.output.table[0][: -len(".csv")], caption=params.caption)
print(f"{len(metrics)} volume rows, {len(table)} tests")
