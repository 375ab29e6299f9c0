"""Rule merge_score_shards: one dataset's metrics, lesions, patch statistics, pooled scores and heatmaps
from its shards."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.pooled import merge_pooled
from patch2loc.evaluation.shards import merge_csv, merge_dirs

inp, out = snakemake.input, snakemake.output
print(f"metrics: {merge_csv(inp.metrics, out.metrics)} volumes from {len(inp.metrics)} shard(s)")
print(f"lesions: {merge_csv(inp.lesions, out.lesions)} rows")
print(f"patches: {merge_csv(inp.patches, out.patches)} rows")
print(f"pooled scores: {merge_pooled(list(inp.pooled), out.pooled)} voxels")
print(f"heatmaps: {merge_dirs(inp.heatmaps, out.heatmaps)} kept")
