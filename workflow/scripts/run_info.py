"""Save the resolved config and the package versions next to the results."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import yaml
from patch2loc.files.staging import atomic_output
from patch2loc.run.provenance import versions_text

with atomic_output(snakemake.output.config) as tmp:
    tmp.write_text(yaml.safe_dump(dict(snakemake.params.config), sort_keys=False))
with atomic_output(snakemake.output.versions) as tmp:
    tmp.write_text(versions_text())
