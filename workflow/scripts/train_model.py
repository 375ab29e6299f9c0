"""Training rules (train_model for Patch2Loc, train_dae, ...: one per trained method of
`patch2loc.registry`, and pretrain_<name> for a method's pre-training): train one model of a
method on a fold's IXI training subjects; a pre-trained model (input `pretrained`) is passed to the
method under the setting its registry line names (cDDPM: `encoder_checkpoint`).

Training runs in params.state_dir, which is not a declared output: Snakemake deletes the outputs
of a killed or timed-out job but not that folder, so the retried job resumes from its last.pt.
The finished files are then moved into the declared outputs and the folder is removed.
"""

import importlib
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import require_cuda, setup

setup(snakemake, threads=snakemake.threads)
require_cuda(snakemake)

from patch2loc.training.joblimit import DEADLINE_ENV, deadline_for
from patch2loc.run.checkpoint import read_checkpoint

if os.environ.get("SLURM_JOB_ID"):  # a job with a time limit: stop at a checkpoint before it, resumed next
    os.environ[DEADLINE_ENV] = str(deadline_for(snakemake.resources.runtime))

method = snakemake.params.method
inp, out = snakemake.input, snakemake.output
state = Path(snakemake.params.state_dir)
if (state / "last.pt").exists():
    step = read_checkpoint(state / "last.pt", "resume state", method=method)["step"]  # never unpickles code
    print(f"resuming from step {step} ({state / 'last.pt'})", flush=True)
else:
    print(f"starting at step 0 (no checkpoint in {state})", flush=True)
if "coverage" in inp.keys():  # a model input of several contrasts: who its lists left out for lacking one
    import csv

    with open(inp.coverage, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["fold"] == str(snakemake.wildcards.fold):
                print(f"{row['split']}: {row['subjects']} subjects; {row['left_out']} left out for lacking a contrast")
mem_mb = getattr(getattr(snakemake, "resources", None), "mem_mb", None)
if mem_mb:  # the training's memory estimate is held to the job's (training/train_memory.py)
    os.environ["PATCH2LOC_TRAIN_MEM_MB"] = str(mem_mb)
settings = dict(snakemake.params.settings)
if "pretrained" in inp.keys():  # the pre-training's best.pt, under the key its registry line names
    settings[snakemake.params.pretrained_setting] = inp.pretrained
if snakemake.params.pretrained_home:  # the published networks' cache (input `weights`, rules/pretrained.smk)
    settings["pretrained_home"] = snakemake.params.pretrained_home
summary = importlib.import_module(snakemake.params.module).train_from_files(
    list(zip(inp.train_images, inp.train_masks)),
    list(zip(inp.val_images, inp.val_masks)),
    settings,
    state,
    modality=snakemake.wildcards.modality,  # recorded in the checkpoints; predict checks it
    threads=snakemake.threads,
)
print(json.dumps(summary, indent=2, default=str))  # readable in the log, unlike a dict's repr
for name in ("best", "last", "loss"):
    target = Path(out[name])
    target.parent.mkdir(parents=True, exist_ok=True)
    src = state / target.name
    os.replace(src, target) if src.stat().st_dev == target.parent.stat().st_dev else shutil.move(src, target)
shutil.rmtree(state)
