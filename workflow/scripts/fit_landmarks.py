"""Rule fit_landmarks: Nyul landmarks of one modality from the IXI train/val pool."""

import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.preprocessing.normalize import fit_landmarks

fit_landmarks(snakemake.input.images, snakemake.input.masks, snakemake.output.landmarks)
print(f"fitted on {len(snakemake.input.images)} scans")
