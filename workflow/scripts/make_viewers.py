"""Rule viewers: one HTML viewer per kept heatmap of a (method, modality, fold, dataset), with
the run's unsupervised threshold; NiiVue is loaded from the copy at viewers/niivue.umd.js."""

import json
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import os

from patch2loc.viewer import viewer_from_files
from patch2loc.run.layout import RunLayout

wc, inp = snakemake.wildcards, snakemake.input
out = Path(snakemake.output[0])
threshold = json.loads(Path(inp.threshold).read_text(encoding="utf-8"))["threshold"]
images = {RunLayout.parse(p, "normalized")["subject"]: p for p in inp.images}
segs = {RunLayout.parse(p, "preprocessed")["subject"]: p for p in inp.segs}
library = Path(os.path.relpath(snakemake.params.library, out)).as_posix()  # the pages' one copy of NiiVue
out.mkdir(parents=True, exist_ok=True)
for heatmap in sorted(Path(inp.heatmaps).glob("*.nii.gz")):
    subject = heatmap.name[: -len(".nii.gz")]
    if subject not in images:  # a heatmap the config does not keep (e.g. left from an earlier run)
        print(f"skipped {heatmap}: not among the kept subjects")
        continue
    page = viewer_from_files(
        out / f"{subject}.html",
        images[subject],
        heatmap,
        threshold=threshold,
        seg=segs.get(subject),
        title=f"{wc.dataset} {subject}",
        meta=f"{wc.method} {wc.modality} {wc.fold}",
        method=wc.method,
        library=library,
    )
    print(f"{page}: {page.stat().st_size / 1e3:.0f} kB")
