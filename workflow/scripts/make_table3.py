"""Rule table3: the challenges' metrics at the unsupervised threshold (Table 3), lesion-wise recall
by lesion size (table and one figure per lesion set) and AUPRC by lesion-load tertile."""
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.lesionwise import tables as T
from patch2loc.evaluation.lesionwise.figures import recall_size_figure
from patch2loc.evaluation.lesionwise.rule import LESION_COLUMNS, VOLUME_COLUMNS, LesionRule
from patch2loc.evaluation.figure_style import not_drawn
from patch2loc.evaluation.tables import read_csvs, write_table
from patch2loc.io import InputError, write_csv

inp, out, params = snakemake.input, snakemake.output, snakemake.params
rule = LesionRule.from_config(params.lesionwise)
metrics = read_csvs(inp.metrics, required=("method", "modality", "fold", "dataset", "subject", "region",
                                           "auprc", "dice_unsup", *VOLUME_COLUMNS))
lesions = read_csvs(inp.lesions, required=("method", "modality", "fold", "dataset", *LESION_COLUMNS))
threshold = (f"at the unsupervised threshold (the {params.quantile:g} quantile of in-brain scores of the healthy "
             "IXI test volumes, per model)")
stem = lambda files: files[0][: -len(".csv")]  # noqa: E731

write_table(T.table3(metrics), stem(out.table),
            caption=f"Table 3: the challenges' metrics {threshold}, inside the brain mask: Dice, HD95 (larger directed "
            "95th percentile of boundary-voxel distances, mm), AVD (|predicted - lesion volume| / lesion volume), "
            f"lesion-wise recall and F1 per volume, false-positive components per volume. {rule.describe()}. "
            "Per fold the mean over volumes, then mean ± std over folds.")
per_fold = T.recall_by_size_per_fold(lesions, rule.size_bins_ml)
write_csv(per_fold, out.per_fold)
write_table(T.recall_by_size(per_fold), stem(out.size),
            caption=f"Lesion-wise recall (%) by lesion volume {threshold}: per fold the lesions found over the "
            f"lesions in the bin, then mean ± std over folds; (n) lesions per bin and fold. {rule.describe()}.")
write_table(T.auprc_by_load(metrics), stem(out.load),
            caption="AUPRC (%) by tertile of total lesion volume (each set's volumes in three groups; range in mL): "
            "per fold the mean over the group's volumes, then mean ± std over folds.")
for png in out.figures:
    dataset = Path(png).name[len("recall_size_"):-len(".png")]
    try:
        recall_size_figure(per_fold, dataset, png)
    except InputError as err:  # e.g. a set without a counted lesion: a PNG that says so
        not_drawn(Path(png).name, str(err), png)
print(f"{len(metrics)} volume rows, {len(lesions)} lesions, {len(out.figures)} figures")
