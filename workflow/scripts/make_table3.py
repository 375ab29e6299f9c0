"""Rule table3: the challenges' metrics at the unsupervised threshold (Table 3: the WMH rules on
every set, and each set with its own challenge's metrics), lesion-wise recall
by lesion size (table and one figure per lesion set) and AUPRC by lesion-load tertile; their
captions come from the rule (patch2loc.evaluation.report.captions)."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.tables.challenge_table import challenge_table
from patch2loc.evaluation.lesionwise import tables as T
from patch2loc.evaluation.lesionwise.figures import recall_size_figure
from patch2loc.evaluation.lesionwise.rule import LESION_COLUMNS, VOLUME_COLUMNS, LesionRule
from patch2loc.evaluation.figures.style import not_drawn
from patch2loc.evaluation.tables.aggregate import interval_table, read_csvs
from patch2loc.evaluation.tables.uncertainty import Bootstrap
from patch2loc.evaluation.tables.files import write_table
from patch2loc.files.io import write_csv
from patch2loc.errors import InputError
from patch2loc.run.layout import RunLayout

inp, out, params = snakemake.input, snakemake.output, snakemake.params
captions = params.captions
rule = LesionRule.from_config(params.lesionwise)
metrics = read_csvs(
    inp.metrics,
    required=("method", "modality", "fold", "dataset", "subject", "region", "auprc", "dice_unsup", *VOLUME_COLUMNS),
)
lesions = read_csvs(inp.lesions, required=("method", "modality", "fold", "dataset", *LESION_COLUMNS))
stem = lambda files: files[0][: -len(".csv")]  # noqa: E731

boot = Bootstrap.from_config(params.bootstrap)
write_table(T.table3(metrics, boot=boot), stem(out.table), caption=captions["table3"])
write_csv(interval_table(metrics, list(T.TABLE3), boot), out.intervals)
write_table(
    challenge_table(metrics, dict(params.challenges), boot), stem(out.challenges), caption=captions["table3_challenges"]
)
per_fold = T.recall_by_size_per_fold(lesions, rule.size_bins_ml)
write_csv(per_fold, out.per_fold)
write_table(T.recall_by_size(per_fold), stem(out.size), caption=captions["table3_size"])
write_table(T.auprc_by_load(metrics, boot=boot), stem(out.load), caption=captions["table3_load"])
for png in out.figures:
    dataset = RunLayout.parse(png, "figure:recall_size")["dataset"]
    try:
        recall_size_figure(per_fold, dataset, png)
    except InputError as err:  # e.g. a set without a counted lesion: a PNG that says so
        not_drawn(Path(png).name, str(err), png)
print(f"{len(metrics)} volume rows, {len(lesions)} lesions, {len(out.figures)} figures")
