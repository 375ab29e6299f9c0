"""Rule arrange_wmh: fetch what the Dataverse bundle left out, then move each subject to WMH/<site>/<id>."""
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.dataverse import complete_bundle
from patch2loc.data.wmh import arrange
from patch2loc.io import atomic_output

p = snakemake.params
splits = tuple(p.splits)
complete_bundle(p.archive, needed=splits, checksum_db=p.checksums, listing=p.listing, access=p.access, page=p.page)
moved = arrange(p.archive, p.root, splits)
with atomic_output(snakemake.output.marker) as tmp:
    tmp.write_text(f"{moved} subjects arranged from {', '.join(splits)}\n")
print(f"{moved} subjects arranged from {', '.join(splits)}")
