"""Rule bias: false positives on healthy IXI test volumes by site, sex and age band, per method; its
caption comes from the rule (patch2loc.evaluation.report.captions)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import refusals, setup

setup(snakemake)

from patch2loc.evaluation.comparisons.bias import bias_table
from patch2loc.data.demographics import read_ixi_demographics
from patch2loc.evaluation.tables.aggregate import read_csvs
from patch2loc.evaluation.tables.files import write_table
from patch2loc.evaluation.tables.uncertainty import Bootstrap
from patch2loc.evaluation.dataset.volume_scores import SKETCH_COLUMNS

params = snakemake.params
with refusals(snakemake):  # a metrics file or the demographics that are not what they should be: one line
    numbers = ("brain_voxels", *SKETCH_COLUMNS)  # text there was compared as text: a table with exit 0
    healthy = read_csvs(
        snakemake.input.healthy, required=("method", "modality", "fold", "subject", *numbers), numeric=numbers
    )
    demographics = read_ixi_demographics(params.demographics)
    table, error = bias_table(
        healthy, demographics, params.age_edges, quantile=params.quantile, boot=Bootstrap.from_config(params.bootstrap)
    )
    caption = f"{params.caption} Refitted from each volume's score quantiles: every fraction within {100 * error:.3g} pp of the exact one."
    write_table(table, snakemake.output.table[0][: -len(".csv")], caption=caption)
    print(f"{len(healthy)} healthy rows; {len(demographics)} subjects in {params.demographics}")
