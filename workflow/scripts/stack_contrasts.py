"""Rules stack_healthy_contrasts, stack_lesion_contrasts: one subject's normalised contrasts as the
channels of one stack (the input of a model of several contrasts; patch2loc.preprocessing.stack),
checked as predict checks them (patch2loc.checks.contrasts; PATCH2LOC_SKIP_TISSUE_ORDER=1 makes a
channel's unexpected tissue order a warning, for an unusual sequence)."""

import os
import sys

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.preprocessing.stack import stack_contrasts

i, o = snakemake.input, snakemake.output
contrasts = (snakemake.config.get("inputs") or {}).get(snakemake.wildcards.modality)
counts = stack_contrasts(
    list(i.images),
    list(i.masks),
    o.image,
    o.mask,
    seg=i.seg if "seg" in i.keys() else None,
    out_seg=o.seg if "seg" in o.keys() else None,
    contrasts=contrasts,
    labels=[f"{c} {path}" for c, path in zip(contrasts or [], i.images)] or None,
    tissue_order=os.environ.get("PATCH2LOC_SKIP_TISSUE_ORDER", "") != "1",
)
print(
    f"stacked {len(i.images)} contrasts; brain voxels per contrast {counts['mask_voxels']}, kept {counts['stack_voxels']}"
)
