"""Rule figures: KDEs, heatmap panels, Gaussian ellipses, loss curves; figures.json lists them.

The rule's outputs name every PNG (datasets and modalities are read back from the file names),
so what is drawn is exactly what the rule declares. A figure that cannot be drawn (e.g. no
abnormal patch) becomes a small PNG saying why, and is left out of figures.json.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

from patch2loc.evaluation import figures, patch_stream
from patch2loc.io import atomic_output, load_volume

inp, out, params = snakemake.input, snakemake.output, snakemake.params
made = []  # {section, file, caption} of the figures actually drawn
KDE_POINTS = 10000  # random patches per class in each KDE (the legend gives the full count)


def add(section, path, caption, draw):
    path = Path(path)
    try:
        draw(path)
    except Exception as err:  # one figure that cannot be drawn must not sink the rest
        print(f"not drawn {path.name}: {err}")
        figures.not_drawn(path.name, str(err), path)
        return
    made.append({"section": section, "file": path.name, "caption": caption})


def between(path, prefix):
    """'kde_MSLUB.png', 'kde_' -> 'MSLUB'."""
    return Path(path).name[len(prefix):-len(".png")]


# Patch statistics of every fold, one dataset at a time (the figures pool the folds), read in
# chunks: a random sample per class for the KDEs and one location's rows for the ellipses.
for png in out.kde:
    dataset = between(png, "kde_")

    def draw_kde(path, d=dataset):
        sample, counts = patch_stream.sample_classes(inp.patches, d, max_points=KDE_POINTS)
        figures.kde_figure(sample, d, path, max_points=KDE_POINTS, counts=counts)

    add("Patch analysis", png,
        f"{dataset}: densities of log-error, log-variance and score of normal (<10% lesion) and "
        "abnormal (>90%) non-overlapping patches, all folds pooled (paper Fig. 3/6).", draw_kde)


for png in out.ellipses:
    dataset = between(png, "ellipses_")
    add("Patch analysis", png,
        f"{dataset}: predicted Gaussians (1-sigma ellipses) of the patches at one location (slice, "
        "centre) that has both normal and abnormal patches, across subjects; the star is the true "
        "location (paper Fig. 2).",
        lambda p, d=dataset: figures.ellipse_figure(patch_stream.rows_at_best_location(inp.patches, d)[0], p))

# Heatmap panels: the first kept heatmaps of the first fold of each dataset (paper Fig. 4/5).
# Layout: .../scores/Patch2Loc/{modality}/fold{k}/{dataset}/heatmaps/{subject}.nii.gz; the image
# is .../normalized/{dataset}/{modality}/{subject}/image.nii.gz, the lesion mask .../preprocessed/.../seg.nii.gz.
run_root = Path(params.run_root)
heatmap_dirs = {f"heatmaps_{Path(d).parent.name}_{Path(d).parents[2].name}.png": Path(d) for d in inp.heatmaps}


def heatmap_rows(heatmap_dir):
    dataset, modality = heatmap_dir.parent.name, heatmap_dir.parents[2].name
    rows = []
    for hm in sorted(heatmap_dir.glob("*.nii.gz"))[: params.figure_subjects]:
        subject = hm.name[: -len(".nii.gz")]
        image = load_volume(run_root / "normalized" / dataset / modality / subject / "image.nii.gz").data
        score = load_volume(hm).data
        seg_path = run_root / "preprocessed" / dataset / modality / subject / "seg.nii.gz"
        seg = load_volume(seg_path).data > 0 if seg_path.exists() else None
        z = figures.pick_slice(seg, image > 0)  # the slice with the most lesion voxels
        rows.append((f"{dataset} {subject} (slice {z})", image[:, :, z], score[:, :, z],
                     None if seg is None else seg[:, :, z]))
    return rows


for png in out.heatmaps:
    heatmap_dir = heatmap_dirs[Path(png).name]
    dataset, fold, modality = heatmap_dir.parent.name, heatmap_dir.parents[1].name, heatmap_dir.parents[2].name
    kind = "healthy IXI test subjects (paper Fig. 5)" if dataset == "IXI" else "paper Fig. 4"
    add("Heatmaps", png,
        f"{dataset} ({modality}, {fold}): slice, Patch2Loc score on the fixed [0, 12] scale, "
        f"ground-truth outline; {kind}.", lambda p, d=heatmap_dir: figures.heatmap_panel(heatmap_rows(d), p))

curves = {f"{Path(p).parents[1].name} {Path(p).parent.name}": p for p in inp.losses}
add("Training", out.loss, "Training and validation loss (beta-NLL) and validation location "
    "error per model.", lambda p: figures.loss_curves(curves, p))

with atomic_output(out.done) as tmp:
    tmp.write_text(json.dumps(made, indent=1))
