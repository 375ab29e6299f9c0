"""The GPU benchmark's parts (benchmarks/bench_gpu.py): Patch2Loc's training and dense heatmap, the
competitors' training and scoring, predict end to end, and the paper run's GPU hours that follow."""
