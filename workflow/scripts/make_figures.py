"""Rule figures: KDEs, heatmap panels, method panels, Gaussian ellipses, loss curves; figures.json
lists them.

The rule's outputs name every PNG (methods, datasets and modalities are read back from the file
names by patch2loc.run.layout), so what is drawn is exactly what the rule declares. A figure that
cannot be drawn (e.g. no abnormal patch) becomes a small PNG saying why, and is left out of
figures.json. Every path is read back into its keys (method, modality, fold, dataset) by
`RunLayout.parse`.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import pandas as pd
from patch2loc.evaluation.patches import stream as patch_stream
from patch2loc.evaluation.figures.ellipses import ellipse_figure
from patch2loc.evaluation.figures.heatmaps import heatmap_panel, method_panel, pick_slice
from patch2loc.evaluation.figures.kde import kde_figure, method_kde_figure
from patch2loc.evaluation.figures.loss_curves import loss_curves
from patch2loc.evaluation.figures.style import not_drawn
from patch2loc.evaluation.patches.classes import PatchClasses
from patch2loc.files.io import load_volume
from patch2loc.files.staging import atomic_output
from patch2loc.run.layout import RunLayout

inp, out, params = snakemake.input, snakemake.output, snakemake.params
layout = RunLayout(params.run_root)  # the run's paths (patch2loc.run.layout)
made = []  # {section, file, caption} of the figures actually drawn
KDE_POINTS = 10000  # random patches per class in each KDE (the legend gives the full count)
CLASSES = PatchClasses.from_config(params.patches)  # evaluate.patches: which patches are (ab)normal


def add(section, path, caption, draw):
    path = Path(path)
    try:
        draw(path)
    except Exception as err:  # one figure that cannot be drawn must not sink the rest
        print(f"not drawn {path.name}: {err}")
        not_drawn(path.name, str(err), path)
        return
    made.append({"section": section, "file": path.name, "caption": caption})


# One caption source for both reports: the text of Snakemake's report (workflow/report/{kind}.rst,
# the captions the rule's report() marks name) is also the home-made report's, after the figure's
# own subject (dataset, modality, fold).
CAPTIONS = Path(snakemake.scriptdir).parent / "report"


def caption(kind, subject):
    return f"{subject}: " + " ".join((CAPTIONS / f"{kind}.rst").read_text(encoding="utf-8").split())


def scores_of(path):
    """{method, modality, fold, dataset, name} of a file or folder of a scoring."""
    return RunLayout.parse(path, "scores")


patches = {m: [p for p in inp.patches if scores_of(p)["method"] == m] for m in params.methods}


def per_dataset(pngs, kind, section, caption, draw):
    """add() every figure of a kind with one key, the dataset: caption(dataset), draw(path, dataset)."""
    for png in pngs:
        dataset = RunLayout.parse(png, f"figure:{kind}")["dataset"]
        add(section, png, caption(dataset), lambda path, d=dataset: draw(path, d))


def sample(files, dataset):
    return patch_stream.sample_classes(files, dataset, max_points=KDE_POINTS, definition=CLASSES)


def draw_kde(path, dataset):
    rows, counts = sample(patches[params.position_method], dataset)
    kde_figure(rows, dataset, path, max_points=KDE_POINTS, counts=counts, definition=CLASSES)


def draw_method_kde(path, dataset):
    samples = {m: sample(files, dataset) for m, files in patches.items()}
    method_kde_figure(samples, dataset, path, max_points=KDE_POINTS, definition=CLASSES)


def draw_ellipses(path, dataset):
    rows, _ = patch_stream.rows_at_best_location(patches[params.position_method], dataset, definition=CLASSES)
    ellipse_figure(rows, path, definition=CLASSES)


def patch_caption(kind):
    """The caption of a patch-analysis figure: its text, then the definition that made it."""
    return lambda dataset: f"{caption(kind, dataset)} {CLASSES.describe()}"


# Patch statistics of every fold, one dataset at a time (the figures pool the folds), read in
# chunks: a random sample per class for the KDEs and one location's rows for the ellipses.
per_dataset(out.kde, "kde", "Patch analysis", patch_caption("kde"), draw_kde)
per_dataset(out.kde_methods, "kde_methods", "Method comparison", patch_caption("kde_methods"), draw_method_kde)
per_dataset(out.ellipses, "ellipses", "Patch analysis", patch_caption("ellipses"), draw_ellipses)


def slice_of(dataset, modality, subject):
    """(image, seg or None, z): the normalised scan and the axial slice with the most lesion."""
    image = load_volume(layout.normalized(dataset, modality, subject)).data
    seg_path = Path(layout.preprocessed(dataset, modality, subject, "seg.nii.gz"))
    seg = load_volume(seg_path).data > 0 if seg_path.exists() else None
    return image, seg, pick_slice(seg, image > 0)


def kept_subjects(*dirs):
    """Subjects with a kept heatmap in any of these folders, sorted, at most figure_subjects."""
    return sorted({hm.name[: -len(".nii.gz")] for d in dirs for hm in d.glob("*.nii.gz")})[: params.figure_subjects]


def panel_rows(dataset, modality, heatmaps, label):
    """Per kept subject: (label, image slice, {name: heatmap slice}, seg slice) at the slice with the
    most lesion voxels; `heatmaps` maps a name to a heatmaps/ folder."""
    rows = []
    for subject in kept_subjects(*heatmaps.values()):
        image, seg, z = slice_of(dataset, modality, subject)
        maps = {
            name: load_volume(d / f"{subject}.nii.gz").data[:, :, z]
            for name, d in heatmaps.items()
            if (d / f"{subject}.nii.gz").exists()
        }
        rows.append((label(subject, z), image[:, :, z], maps, None if seg is None else seg[:, :, z]))
    return rows


def heatmap_rows(heatmap_dir):
    """Paper Fig. 4/5: the first kept heatmaps of the first fold of a dataset."""
    keys = scores_of(heatmap_dir)
    dataset = keys["dataset"]
    rows = panel_rows(dataset, keys["modality"], {"score": heatmap_dir}, lambda s, z: f"{dataset} {s} (slice {z})")
    return [(label, image, maps["score"], seg) for label, image, maps, seg in rows]


heatmap_dirs = {}  # (dataset, modality) -> (heatmaps/ folder, its keys)
for d in inp.heatmaps:
    keys = scores_of(d)
    heatmap_dirs[(keys["dataset"], keys["modality"])] = (Path(d), keys)
for png in out.heatmaps:
    figure = RunLayout.parse(png, "figure:heatmaps")
    heatmap_dir, keys = heatmap_dirs[(figure["dataset"], figure["modality"])]
    add(
        "Heatmaps",
        png,
        caption("heatmaps", f"{keys['dataset']} ({keys['modality']}, {keys['fold']})"),
        lambda p, d=heatmap_dir: heatmap_panel(heatmap_rows(d), p),
    )

# Method panels: the same subjects and slices with every method's kept heatmap (first fold), each
# on its own scale, from the median of its healthy IXI test scores to its unsupervised threshold.
healthy = pd.concat([pd.read_csv(p) for p in inp.healthy], ignore_index=True)
scales = {
    key: (float(g["score_median"].mean()), float(g["unsup_threshold"].mean()))
    for key, g in healthy.groupby(["method", "modality"])
}
method_dirs = {}  # lesion set -> {method: heatmaps/ of its first fold}
for d in map(Path, inp.method_heatmaps):
    keys = scores_of(d)
    if keys["dataset"] != "IXI":
        method_dirs.setdefault(keys["dataset"], {})[keys["method"]] = d


def draw_methods(path, dataset):
    dirs = method_dirs[dataset]
    modality = scores_of(next(iter(dirs.values())))["modality"]
    rows = panel_rows(dataset, modality, dirs, lambda s, z: f"{s} (slice {z})")
    methods = [m for m in params.methods if m in dirs]
    method_panel(rows, methods, {m: scales[(m, modality)] for m in methods}, path)


per_dataset(out.methods, "methods", "Method comparison", lambda d: caption("methods", d), draw_methods)

for png in out.loss:
    method = RunLayout.parse(png, "figure:loss_curves")["method"]
    curves = {
        f"{k['modality']} {RunLayout.fold_name(k['fold'])}": p
        for p in inp.losses
        if (k := RunLayout.parse(p, "model"))["method"] == method
    }
    add("Training", png, caption("loss_curves", method), lambda p, c=curves: loss_curves(c, p))

with atomic_output(out.done) as tmp:
    tmp.write_text(json.dumps(made, indent=1))
