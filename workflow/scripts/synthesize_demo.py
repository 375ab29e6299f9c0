"""Rule synthesize_demo: write one synthetic dataset in its real raw layout."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.synth import synthesize_dataset

p = snakemake.params
scans = synthesize_dataset(
    p.dataset,
    list(p.subjects),
    p.raw_root,
    p.seed,
    p.spacing,
    p.modalities,
    p.lesion_model,
    anatomies=tuple(p.anatomies),
    variation=p.variation,
)
with open(snakemake.output.marker, "w") as fh:  # written last: marks the dataset complete
    fh.writelines(f"{s.modality}\t{s.subject}\t{s.image}\n" for s in scans)
print(f"{len(scans)} scans written")
