"""Rule figures: KDEs, heatmap panels, Gaussian ellipses, loss curves; figures.json lists them."""
import json
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import pandas as pd
from patch2loc import figures
from patch2loc.analysis import location_with_both
from patch2loc.io import atomic_output, load_volume

inp, params = snakemake.input, snakemake.params
out_dir = Path(params.out_dir)
made = []  # (section, file, caption)


def add(section, name, caption, draw):
    path = out_dir / name
    try:
        draw(path)
    except Exception as err:  # one figure that cannot be drawn (e.g. no abnormal patch) must not sink the rest
        print(f"skipped {name}: {err}")
        return
    made.append({"section": section, "file": name, "caption": caption})


# Patch statistics of every fold, one dataset at a time (the figures pool the folds).
patches = pd.concat([pd.read_csv(p) for p in inp.patches], ignore_index=True)
for dataset, group in patches.groupby("dataset", sort=False):
    add("Patch analysis", f"kde_{dataset}.png",
        f"{dataset}: densities of log-error, log-variance and score of normal (<10% lesion) and "
        "abnormal (>90%) non-overlapping patches, all folds pooled (paper Fig. 3/6).",
        lambda p, g=group, d=dataset: figures.kde_figure(g, d, p))
    fold0 = group[group["fold"] == group["fold"].min()]
    try:
        z, x, y = location_with_both(fold0)
    except Exception as err:
        print(f"no ellipse figure for {dataset}: {err}")
        continue
    here = fold0[(fold0["z"] == z) & (fold0["x"] == x) & (fold0["y"] == y)]
    add("Patch analysis", f"ellipses_{dataset}.png",
        f"{dataset}: predicted Gaussians (1-sigma ellipses) of the patch at slice {z}, centre ({x}, {y}) "
        "across subjects; normal vs abnormal; the star is the true location (paper Fig. 2).",
        lambda p, h=here: figures.ellipse_figure(h, p))

# Heatmap panels: the first kept heatmaps of the first fold of each dataset (paper Fig. 4/5).
# Layout: .../scores/Patch2Loc/{modality}/fold{k}/{dataset}/heatmaps/{subject}.nii.gz; the image
# is .../normalized/{dataset}/{modality}/{subject}/image.nii.gz, the lesion mask .../preprocessed/.../seg.nii.gz.
run_root = Path(params.run_root)
for heatmap_dir in map(Path, inp.heatmaps):
    dataset, fold, modality = heatmap_dir.parent.name, heatmap_dir.parents[1].name, heatmap_dir.parents[2].name
    rows = []
    for hm in sorted(heatmap_dir.glob("*.nii.gz"))[: params.figure_subjects]:
        subject = hm.name[: -len(".nii.gz")]
        image = load_volume(run_root / "normalized" / dataset / modality / subject / "image.nii.gz").data
        score = load_volume(hm).data
        seg_path = run_root / "preprocessed" / dataset / modality / subject / "seg.nii.gz"
        seg = load_volume(seg_path).data > 0 if seg_path.exists() else None
        z = figures.pick_slice(seg, image > 0)
        rows.append((f"{dataset} {subject} (slice {z})", image[:, :, z], score[:, :, z],
                     None if seg is None else seg[:, :, z]))
    if rows:
        kind = "healthy IXI test subjects (paper Fig. 5)" if dataset == "IXI" else "paper Fig. 4"
        add("Heatmaps", f"heatmaps_{dataset}_{modality}.png",
            f"{dataset} ({modality}, {fold}): slice, Patch2Loc score on the fixed [0, 12] scale, "
            f"ground-truth outline; {kind}.", lambda p, r=rows: figures.heatmap_panel(r, p))

curves = {f"{Path(p).parents[1].name} {Path(p).parent.name}": p for p in inp.losses}
add("Training", "loss_curves.png", "Training and validation loss (beta-NLL) and validation location "
    "error per model.", lambda p: figures.loss_curves(curves, p))

with atomic_output(snakemake.output.done) as tmp:
    tmp.write_text(json.dumps(made, indent=1))
