"""Rule extract: unpack an archive within the config's `extract` budgets (checked on its headers first);
the completion marker is written last."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.unpack import budget_from_config, extract

marker = extract(snakemake.input.archive, snakemake.params.dest, budget_from_config(snakemake.params.budget))
assert str(marker) == str(snakemake.output.marker), (marker, snakemake.output.marker)
