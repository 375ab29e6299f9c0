"""Rule prepare_sri24_atlas: SRI24 T1_brain and its mask (T1_brain > 0) as NIfTI."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.preprocessing.pipeline import write_atlas_files

write_atlas_files(snakemake.params.template, snakemake.output.image, snakemake.output.mask)
