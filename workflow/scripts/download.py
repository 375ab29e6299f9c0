"""Rule download: fetch one file (resumable), check a pinned sha256, record or verify it in the db."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import fetch

p = snakemake.params
print(fetch(p.url, snakemake.output[0], p.checksums, expected=p.sha256))
