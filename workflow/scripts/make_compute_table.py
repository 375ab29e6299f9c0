"""Rule compute_table: jobs, wall-clock hours and GPU-hours per stage and method from the benchmark files."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation.tables.compute import compute_per_stage
from patch2loc.files.io import write_csv

table = compute_per_stage(snakemake.input.benchmarks, snakemake.params.gpu_methods)
write_csv(table, snakemake.output.table)
print(table.to_string(index=False))
