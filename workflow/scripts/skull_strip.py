"""Rules skull_strip_robex / skull_strip_hdbet: a brain mask on the raw scan's native grid."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.layouts import raw_paths
from patch2loc.preprocessing.skullstrip import strip

wc = snakemake.wildcards
scan = raw_paths(wc.dataset, snakemake.config["raw_root"], wc.subject, wc.modality)
print(strip(snakemake.params.tool, scan.image, snakemake.output.mask, **snakemake.params.options))
