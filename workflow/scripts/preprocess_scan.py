"""Rules preprocess_*_scan: the SimpleITK chain on one raw scan."""

import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.data.layouts import raw_paths
from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan
from patch2loc.preprocessing.qc import qc_png

wc, out = snakemake.wildcards, snakemake.output
scan = raw_paths(wc.dataset, snakemake.config["raw_root"], wc.subject, wc.modality)
cfg = PreprocessConfig.from_config(snakemake.params.preprocess)
brain_mask = snakemake.input.get("brain_mask") or None  # made by a skull-strip rule, if any
qc = preprocess_scan(
    scan,
    snakemake.input.atlas_image,
    snakemake.input.atlas_mask,
    Path(out.image).parent,
    cfg,
    brain_mask=str(brain_mask) if brain_mask else None,
)
qc_png(out.image, out.mask, out.png)
print(qc)
