"""Rule table2: Spearman correlation of lesion fraction with the Patch2Loc outputs."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.analysis import spearman_per_fold
from patch2loc.evaluate import write_csv
from patch2loc.tables import read_csvs, table2, write_table

patches = read_csvs(snakemake.input.patches, required=("dataset", "fold", "lesion_fraction"))
write_csv(spearman_per_fold(patches), snakemake.output.per_fold)
write_table(
    table2(patches, snakemake.input.published), snakemake.output.table[0][: -len(".csv")],
    caption="Table 2: Spearman correlation (%) of a patch's lesion fraction with log-error, "
    "log-variance and score, patches with 10-90% lesion, mean ± std over folds.",
)
