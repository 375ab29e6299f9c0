"""Rule bias: false positives on healthy IXI test volumes by site, sex and age band, per method; its
caption comes from the rule (patch2loc.evaluation.captions)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.bias import bias_table
from patch2loc.evaluation.demographics import read_ixi_demographics
from patch2loc.evaluation.tables import read_csvs
from patch2loc.evaluation.table_files import write_table

params = snakemake.params
healthy = read_csvs(snakemake.input.healthy, required=("method", "modality", "fold", "subject", "fpr_unsup"))
demographics = read_ixi_demographics(params.demographics)
write_table(
    bias_table(healthy, demographics, params.age_edges),
    snakemake.output.table[0][: -len(".csv")],
    caption=params.caption,
)
print(f"{len(healthy)} healthy rows; {len(demographics)} subjects in {params.demographics}")
