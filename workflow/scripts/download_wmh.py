"""Rule download_wmh: the WMH files the splits use, fetched one by one to WMH/<site>/<id>/ (resumable, each checked)."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.download import times_from_config
from patch2loc.data.wmh import fetch_subjects
from patch2loc.files.staging import atomic_output

p = snakemake.params
fetched = fetch_subjects(
    list(p.subjects),
    p.root,
    splits=tuple(p.splits),
    listing=p.listing,
    access=p.access,
    checksum_db=p.checksums,
    page=p.page,
    **times_from_config(p.download),
)
where = " and ".join(f"{s}/" for s in p.splits)
line = f"{len(p.subjects)} WMH subjects in place from {where}; {len(fetched)} file(s) fetched one by one now"
with atomic_output(snakemake.output.marker) as tmp:
    tmp.write_text(line + "\n")
print(line)
