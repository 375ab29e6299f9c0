"""Rule qc_overview: QC table (outliers flagged) and one HTML page per dataset and modality."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.files.staging import atomic_output
from patch2loc.preprocessing.qc import qc_overview, qc_table

table = qc_table(snakemake.input.qc)
with atomic_output(snakemake.output.table) as tmp:
    table.to_csv(tmp, index=False)
pngs = [Path(q).with_name("qc.png") for q in snakemake.input.qc]
qc_overview(f"{snakemake.wildcards.dataset} {snakemake.wildcards.modality}", pngs, table, snakemake.output.html)
