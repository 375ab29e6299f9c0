"""Rule download_weights: the published networks the run's methods train on, into the cache
(patch2loc.networks.pretrained.FILES: each checked against its published sha256; a wrong file is
removed with one line)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import times_from_config
from patch2loc.networks.pretrained import fetch_weights

p = snakemake.params
for path in fetch_weights(p.files, p.home, times_from_config(p.download)):
    print(f"{path}: the published file (sha256 checked)")
