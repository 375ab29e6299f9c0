"""Rule download_hdbet_weights: HD-BET's weights, once, where the skull-strip rule points HOME.

The zip is checked against a pinned checksum when the sources file has one (`sha256`, or the `md5`
Zenodo lists beside the file); either way its sha256 and that of the unpacked checkpoint are
recorded in <home>/checksums.tsv on first download and verified on every later run.
"""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import fetch, times_from_config, verify_file
from patch2loc.data.unpack import budget_from_config, extract
from patch2loc.preprocessing.skullstrip import HDBET_RELEASE

p = snakemake.params
params_dir, db = Path(p.home) / "hd-bet_params", Path(p.home) / "checksums.tsv"
expected = p.sha256 or (f"md5:{p.md5}" if p.md5 else None)
archive = fetch(p.url, params_dir / "hdbet_weights.zip", db, expected=expected, **times_from_config(p.download))
# HD-BET unpacks its zip into this folder too
extract(archive, params_dir / HDBET_RELEASE, budget_from_config(p.budget))
weights = Path(snakemake.output.weights)
if not weights.exists():
    raise FileNotFoundError(
        f"{archive}: unpacked, but {weights} is not in it; check the HD-BET entry of config/datasets.yaml."
    )
print(verify_file(weights, db, f"{p.url} (unpacked)"))
