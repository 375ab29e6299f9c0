"""Rule download: fetch one file (resumable, within download.deadline_s), check its pinned checksum, record or
verify its sha256 in the db."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import fetch, times_from_config

p = snakemake.params
print(fetch(p.url, snakemake.output[0], p.checksums, expected=p.expected, **times_from_config(p.download)))
