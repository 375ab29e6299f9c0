"""Rules score_healthy[_cpu] and score_lesions[_cpu]: anomaly maps of one dataset (or one shard of
a lesion dataset) with one method -> threshold, or metrics, lesions and patch statistics."""

import json
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import require_cuda, setup

setup(snakemake, threads=snakemake.threads)
from patch2loc.registry import get, implementation

if get(snakemake.wildcards.method).gpu:
    require_cuda(snakemake)

from patch2loc.data.inputs import input_contrasts
from patch2loc.checks.devices import auto_device_name
from patch2loc.evaluation.dataset.scan_grid import NativeFiles
from patch2loc.evaluation.dataset.score_dataset import Collected, Scan, ScoringConfig, score_healthy, score_lesions
from patch2loc.evaluation.dataset.pooled import write_pooled
from patch2loc.evaluation.dataset.tuned_dice import write_tuning
from patch2loc.files.io import write_csv, write_json
from patch2loc.scoring.steps import merge_histograms
from patch2loc.run.layout import RunLayout

wc, inp, out = snakemake.wildcards, snakemake.input, snakemake.output
trains = get(wc.method).trains
device = auto_device_name()  # a GPU when usable (the network and the median filter), else the CPU
cfg = ScoringConfig.from_workflow(
    snakemake.params.heatmap,
    snakemake.params.evaluate,
    snakemake.params.patch_size,
    device=device,
    preprocess={"wmh_other_pathology": snakemake.params.wmh_other_pathology},
)
dataset = getattr(wc, "dataset", "IXI")
segs = inp.segs if len(inp.segs) else [None] * len(inp.images)
scans = [Scan(RunLayout.parse(i, "normalized")["subject"], i, m, s) for i, m, s in zip(inp.images, inp.masks, segs)]
# A model of several contrasts is graded on its first (reference) contrast's native grid and labels.
reference = input_contrasts(snakemake.config, wc.modality, "config `inputs`")[0]
if dataset != "IXI" and cfg.space == "native":  # the raw scan and labels, the native mask, the registration
    for scan, mask, transform in zip(scans, inp.native_masks, inp.transforms):
        scan.native = NativeFiles.of_raw(
            dataset, snakemake.config["raw_root"], scan.subject, reference, mask, transform
        )
fold = RunLayout.fold_number(wc.fold)  # None: a method without folds
meta = {"method": wc.method, "modality": wc.modality, "fold": "" if fold is None else str(fold), "dataset": dataset}

model = None
if trains:
    model, _ = implementation(wc.method).load(inp.model[0], cfg.device)

Path(out.heatmaps).mkdir(parents=True, exist_ok=True)
if dataset == "IXI":
    threshold, rows = score_healthy(wc.method, scans, cfg, meta, out.heatmaps, model)
    write_csv(rows, out.metrics)
    write_json(
        {"threshold": threshold, "quantile": cfg.unsupervised_quantile, "volumes": len(scans), **meta}, out.threshold
    )
else:
    threshold = json.loads(Path(inp.threshold).read_text())["threshold"]
    collected = Collected()  # histograms for the merge: pooled AUPRC (reference), validation-tuned Dice
    metrics, lesions, patches = score_lesions(
        wc.method,
        scans,
        cfg,
        meta,
        threshold,
        out.heatmaps,
        model,
        first_index=snakemake.params.first_index,
        challenge=snakemake.params.challenge,
        collected=collected,
    )
    write_csv(metrics, out.metrics)
    write_csv(lesions, out.lesions)
    write_csv(patches, out.patches)
    write_pooled(out.pooled, merge_histograms(collected.pooled), {**meta, "shard": str(wc.shard)})
    write_tuning(out.tuning, collected.tuning)
