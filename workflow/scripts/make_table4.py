"""Rule table4: volume-level detection, healthy IXI test volumes against each lesion set, per method;
its caption comes from the rule (patch2loc.evaluation.report.captions)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.comparisons.detection import table4
from patch2loc.evaluation.tables.aggregate import read_csvs
from patch2loc.evaluation.tables.files import write_table
from patch2loc.evaluation.tables.uncertainty import Bootstrap
from patch2loc.evaluation.dataset.volume_scores import VOLUME_SCORES

params = snakemake.params
column = VOLUME_SCORES[params.volume_score]
required = ("method", "modality", "fold", "dataset", "subject", column)
lesions = read_csvs(snakemake.input.metrics, required=required, usecols=required)
healthy = read_csvs(snakemake.input.healthy, required=required, usecols=required)
table = table4(lesions, healthy, column, Bootstrap.from_config(params.bootstrap))
write_table(table, snakemake.output.table[0][: -len(".csv")], caption=params.caption)
print(f"{len(healthy)} healthy and {len(lesions)} lesion rows, score {column}")
