"""Rule train_model: train one Patch2Loc model on a fold's IXI subjects."""
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake, threads=snakemake.threads)

from patch2loc.train import TrainConfig, train_from_files

p = dict(snakemake.params.train)
cfg = TrainConfig(
    steps=p["steps"],
    patches_per_step=p["patches_per_step"],
    lr=p["lr"],
    beta=p["beta"],
    min_brain_fraction=p["min_brain_fraction"],
    val_every=p["val_every"],
    val_batches=p["val_batches"],
    seed=p["seed"],
    amp=p["amp"],
    checkpoint_every=p.get("checkpoint_every"),
    num_threads=snakemake.threads,
)
inp = snakemake.input
summary = train_from_files(
    list(zip(inp.train_images, inp.train_masks)),
    list(zip(inp.val_images, inp.val_masks)),
    cfg,
    Path(snakemake.output.best).parent,
)
print(summary)
