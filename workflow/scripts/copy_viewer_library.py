"""Rule viewer_library: NiiVue's browser bundle (from the nilearn wheel) beside the run's viewers."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.viewer import copy_library, niivue_library, niivue_version

copy = copy_library(snakemake.output[0])
print(f"{niivue_library()} (NiiVue {niivue_version(copy)}) -> {copy}")
