"""Rule extract: unpack an archive; the completion marker is written last."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import extract

marker = extract(snakemake.input.archive, snakemake.params.dest)
assert str(marker) == str(snakemake.output.marker), (marker, snakemake.output.marker)
