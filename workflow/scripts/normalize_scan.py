"""Rule normalize_scan: Nyul standardisation + division by the in-brain percentile."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.preprocessing.normalize import normalize_scan

i = snakemake.input
normalize_scan(
    i.image,
    i.mask,
    i.landmarks,
    snakemake.output.image,
    percentile=snakemake.params.percentile,
    target_shape=snakemake.params.target_shape,
)
