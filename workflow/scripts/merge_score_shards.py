"""Rule merge_score_shards: one dataset's metrics, lesions, patch statistics, pooled scores and heatmaps
from its shards, with each volume's validation-tuned Dice (evaluation/dataset/tuned_dice.py)."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import refusals, setup

setup(snakemake)

from patch2loc.evaluation.dataset.pooled import merge_pooled, read_pooled
from patch2loc.evaluation.dataset.shards import merge_csv, merge_dirs
from patch2loc.evaluation.dataset.tuned_dice import merge_tuning, read_shards
from patch2loc.data.subjects import tuning_folds

inp, out = snakemake.input, snakemake.output
with refusals(snakemake):  # a shard's file or the split that is not what it should be: one line
    split = list(inp.tuning_folds)  # splits_dir/<set>_val.csv, or none
    folds = tuning_folds(Path(split[0]).parent, snakemake.wildcards.dataset) if split else None
    shards = read_shards(list(inp.tuning))  # every file it reads is checked before anything is written
    for path in inp.pooled:
        read_pooled(path)
    print(f"metrics: {merge_csv(inp.metrics, out.metrics)} volumes from {len(inp.metrics)} shard(s)")
    tuned = merge_tuning(list(inp.tuning), out.metrics, folds, shards)
    print(f"validation-tuned Dice: {tuned} volumes" if folds else "validation-tuned Dice: no <set>_val.csv, NaN")
    print(f"lesions: {merge_csv(inp.lesions, out.lesions)} rows")
    print(f"patches: {merge_csv(inp.patches, out.patches)} rows")
    print(f"pooled scores: {merge_pooled(list(inp.pooled), out.pooled)} voxels")
    print(f"heatmaps: {merge_dirs(inp.heatmaps, out.heatmaps)} kept")
