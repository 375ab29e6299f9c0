"""Rule bias: false positives on healthy IXI test volumes by site, sex and age band, per method."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.bias import bias_table
from patch2loc.evaluation.demographics import read_ixi_demographics
from patch2loc.evaluation.tables import read_csvs, write_table

params = snakemake.params
healthy = read_csvs(snakemake.input.healthy, required=("method", "modality", "fold", "subject", "fpr_unsup"))
demographics = read_ixi_demographics(params.demographics)
edges = ", ".join(f"{e:g}" for e in params.age_edges)
write_table(
    bias_table(healthy, demographics, params.age_edges), snakemake.output.table[0][: -len(".csv")],
    caption="Bias table: the fraction (%) of in-brain voxels above the unsupervised threshold (the "
    f"{params.quantile:g} quantile of the same healthy IXI test volumes' pooled in-brain scores, so about "
    f"{100 * (1 - params.quantile):g} % overall) by IXI site (from the subject id), sex and age band (edges {edges} "
    f"years; {params.demographics}); per fold the mean over a group's volumes, then mean ± std over folds; "
    "(n) volumes per fold.",
)
print(f"{len(healthy)} healthy rows; {len(demographics)} subjects in {params.demographics}")
