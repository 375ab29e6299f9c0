"""Rule download_hdbet_weights: HD-BET's weights, once, where the skull-strip rule points HOME."""
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import extract, fetch
from patch2loc.preprocessing.skullstrip import HDBET_RELEASE

p = snakemake.params
params_dir = Path(p.home) / "hd-bet_params"
archive = fetch(p.url, params_dir / "hdbet_weights.zip", Path(p.home) / "checksums.tsv", expected=p.sha256)
extract(archive, params_dir / HDBET_RELEASE)  # HD-BET unpacks its zip into this folder too
if not Path(snakemake.output.weights).exists():
    raise FileNotFoundError(f"{archive}: unpacked, but {snakemake.output.weights} is not in it; "
                            "check the HD-BET entry of config/datasets.yaml.")
