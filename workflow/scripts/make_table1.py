"""Rule table1: Table 1 (Dice, AUPRC; every method of the run, then the published rows) and the
supplementary table."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.io import write_csv
from patch2loc.evaluation.tables import PUBLISHED_NOTE, read_csvs, table1, table1_supplementary, write_table

out = snakemake.output
metrics = read_csvs(snakemake.input.metrics)
write_csv(metrics, out.per_volume)
region = ", ".join(sorted(metrics["region"].unique()))
write_table(
    table1(metrics, snakemake.input.published), out.table[0][: -len(".csv")],
    caption=f"Table 1: best Dice and AUPRC (%), mean ± std over folds; voxels scored: {region}. {PUBLISHED_NOTE}",
)
write_table(
    table1_supplementary(metrics), out.supplementary[0][: -len(".csv")],
    caption="Table 1 (supplementary): AUROC and Dice at the unsupervised threshold "
    "(98th percentile of in-brain scores on healthy IXI test volumes), %, every method of this harness.",
)
