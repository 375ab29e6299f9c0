"""Rule train_model: train one Patch2Loc model on a fold's IXI training subjects.

Training runs in params.state_dir, which is not a declared output: Snakemake deletes the outputs
of a killed or timed-out job but not that folder, so the retried job resumes from its last.pt.
The finished files are then moved into the declared outputs and the folder is removed.
"""
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import require_cuda, setup

setup(snakemake, threads=snakemake.threads)
require_cuda(snakemake)

from patch2loc.checkpoint import read_checkpoint
from patch2loc.methods.patch2loc.train import TrainConfig, train_from_files

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
    patch_size=p.get("patch_size"),
    num_threads=snakemake.threads,
    modality=snakemake.wildcards.modality,  # recorded in the checkpoints; predict checks it
)
inp, out = snakemake.input, snakemake.output
state = Path(snakemake.params.state_dir)
if (state / "last.pt").exists():
    step = read_checkpoint(state / "last.pt", "resume state")["step"]  # never unpickles code
    print(f"resuming from step {step} ({state / 'last.pt'})", flush=True)
else:
    print(f"starting at step 0 (no checkpoint in {state})", flush=True)
summary = train_from_files(
    list(zip(inp.train_images, inp.train_masks)),
    list(zip(inp.val_images, inp.val_masks)),
    cfg,
    state,
)
print(summary)
for name in ("best", "last", "loss"):
    target = Path(out[name])
    target.parent.mkdir(parents=True, exist_ok=True)
    src = state / target.name
    os.replace(src, target) if src.stat().st_dev == target.parent.stat().st_dev else shutil.move(src, target)
shutil.rmtree(state)
