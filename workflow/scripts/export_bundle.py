"""The bundle of one trained method's models of a modality (patch2loc export), for predict --model."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.bundle.export import export_bundle

out = Path(snakemake.output[0])
if out.exists():  # Snakemake removes outputs before a job; a leftover from a killed job is replaced
    out.unlink()
export_bundle(
    snakemake.params.run_root,
    snakemake.wildcards.modality,
    out,
    method=snakemake.params.method,
    folds=list(snakemake.params.folds),
)
print(f"{out}: written")
