"""Rule prepare_sri24_atlas: SRI24 T1_brain (found by name in the unpacked zip) and its mask (T1_brain > 0) as NIfTI."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import refusals, setup

setup(snakemake)

from patch2loc.data.sri24 import find_template
from patch2loc.preprocessing.atlas import write_atlas_files

with refusals(snakemake):  # an archive that is not the SRI24 package: one line, not a traceback
    template = find_template(snakemake.params.folder)
    print(f"SRI24 template: {template}")
    write_atlas_files(template, snakemake.output.image, snakemake.output.mask)
