"""Copy the configured atlas into the run folder (patch2loc.run.layout: atlas/image.nii.gz, mask.nii.gz)."""

import shutil
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.files.staging import atomic_output

for source, dest in ((snakemake.input.image, snakemake.output.image), (snakemake.input.mask, snakemake.output.mask)):
    with atomic_output(dest) as tmp:
        shutil.copyfile(source, tmp)
