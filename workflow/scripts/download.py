"""Rule download: fetch one file (resumable), check a pinned sha256 or md5, record or verify its sha256 in the db."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import fetch, pinned

p = snakemake.params
print(fetch(p.url, snakemake.output[0], p.checksums, expected=pinned(p.sha256, p.md5)))
