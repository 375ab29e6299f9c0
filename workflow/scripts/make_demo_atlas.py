"""Rule make_demo_atlas: the MNI152 brain from nilearn stands in for SRI24 in the demo."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.synth import make_atlas

make_atlas(snakemake.output.image, snakemake.output.mask, spacing=snakemake.params.spacing)
