"""Rule download: fetch one file (resumable), record or verify its sha256."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.download import fetch, sha256sum
from patch2loc.io import InputError

p = snakemake.params
path = fetch(p.url, snakemake.output[0], p.checksums)
if p.sha256 and sha256sum(path) != p.sha256:
    path.unlink()
    raise InputError(f"{path}: sha256 differs from the value pinned in config/datasets.yaml; "
                     "the download was removed, run again (or update the pinned value if the source changed).")
