"""A method is one package, one registry line, one config block and one docs page: a toy method added
to a copy of the tree with those four files alone goes through the demo DAG's dry run (its training,
scoring and bundle jobs), the workflow's training on its config block, the scoring core, a bundle
(`patch2loc export`) and `patch2loc predict --model`. Nothing else of the tree is edited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.workflow import REPO, copy_workflow, dry_run_jobs, snakemake

PACKAGE = '''"""Toy (docs/toy.md): one learnt intensity level; a voxel's score is its distance from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from patch2loc.interface import NoScoreOptions as ScoreOptions
from patch2loc.run.checkpoint import read_checkpoint
from patch2loc.training.binding import workflow_trainer
from patch2loc.training.harness import LOOP_MUST_MATCH, LoopSettings
from patch2loc.training.resume import NothingExtra
from patch2loc.training.train_memory import Footprint
from patch2loc.training.training_data import load_training_data, train_task

__all__ = ["REFERENCE_PROTOCOL", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]
REFERENCE_PROTOCOL = None


@dataclass
class Settings(LoopSettings):
    steps: int = 100
    lr: float = 0.1


class Level(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.level = torch.nn.Parameter(torch.zeros(()))


class Task(NothingExtra):
    columns = ("step", "train_loss", "val_loss")

    def __init__(self, data, cfg, device):
        self.method, self.model = "Toy", Level().to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.lr)
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.train = torch.from_numpy(data.train_images[data.train_masks]).to(device)
        self.val = torch.from_numpy(data.val_images[data.val_masks]).to(device)

    def train_step(self, step):
        loss = ((self.train - self.model.level) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self):
        return {"val_loss": ((self.val - self.model.level) ** 2).mean().item()}


def _train(train_pairs, val_pairs, cfg, out_dir, progress):
    data = load_training_data(train_pairs, val_pairs)
    return train_task(Task, data, cfg, out_dir, must_match=("steps", "lr", *LOOP_MUST_MATCH), progress=progress)


train_from_files = workflow_trainer(Settings, _train)


def load(checkpoint, device="cpu"):
    ckpt = read_checkpoint(checkpoint, method="Toy")
    model = Level()
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


def score(model, image, mask, settings):
    distance = np.abs(np.asarray(image, np.float32) - float(model.level))
    return {"score": (distance * (np.asarray(mask) > 0)).astype(np.float32)}


def activation_bytes(grid, options, patch_size):
    return 0


def training_footprint(cfg, config, grid, channels):
    return Footprint(sample=4, batch=1)
'''
REGISTRY_LINE = (
    '    Method(name="Toy", module="patch2loc.methods.toy", config="toy", train_rule="train_toy", models="Toy",'
    " train_minutes=1),\n"
)
CONFIG_BLOCK = "\ntoy:\n  steps: 6\n  val_every: 3\n  lr: 0.5\n  threads: 1\n"
DOCS_PAGE = "# Toy\n\nOne learnt intensity level; a voxel's score is its distance from it.\n"

# Run in the copy (its src/ first on the path): train on the config block, score, export, predict.
DRIVER = """
import json, shutil, sys
from pathlib import Path

import numpy as np, yaml
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.safety import make_case, predict_argv

import patch2loc
from patch2loc.cli import main
from patch2loc.files.io import load_volume
from patch2loc.predict.runchain import RunChain
from patch2loc.registry import implementation
from patch2loc.run.configfiles import load as load_config
from patch2loc.run.layout import RunLayout
from patch2loc.scoring import ScanSettings, score_scan

base = Path(sys.argv[1])
assert Path(patch2loc.__file__).is_relative_to(base), patch2loc.__file__  # the copy's package
case = make_case(base / "case")
block = load_config([str(base / "config" / "demo.yaml")])["toy"]
layout = RunLayout(base / "results" / "r")
Path(layout.landmarks("T1")).parent.mkdir(parents=True)
cfg = {"run_name": "r", "folds": [0], "preprocess": {"spacing": [1.0, 1.0, 1.0], "target_shape": [16, 16, 4]},
       "normalize": {"percentile": 98.0}, "heatmap": {"median_size": 3},
       "atlas": {"image": "data/atlas.nii.gz", "mask": "data/mask.nii.gz"}}
Path(layout.config).write_text(yaml.safe_dump(cfg))
Path(layout.versions).write_text("patch2loc: test\\n")
np.save(layout.landmarks("T1"), np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]]))
Path(layout.atlas_image).parent.mkdir()
shutil.copy(case["image"], layout.atlas_image)
shutil.copy(case["mask"], layout.atlas_mask)
pairs = [(str(case["image"]), str(case["mask"]))]
toy = implementation("Toy")
toy.train_from_files(pairs, pairs, block, layout.model_dir("Toy", "T1", 0), modality="T1", threads=1, progress=False)
model, ckpt = toy.load(layout.checkpoint("T1", 0, "Toy"), "cpu")
image, mask = load_volume(case["image"]).data, load_volume(case["mask"], kind="mask").data > 0
scored = score_scan("Toy", [model], image, mask, ScanSettings(median_size=3, device="cpu"))
Path(layout.threshold("Toy", "T1", "fold0")).parent.mkdir(parents=True)
Path(layout.threshold("Toy", "T1", "fold0")).write_text(json.dumps({"threshold": float(scored.score.max()) / 2}))
bundle = base / "toy.zip"
exported = main(["export", layout.root, "--modality", "T1", "--method", "Toy", "--out", str(bundle), "--quiet"])
RunChain.prepare = fake_prepare  # the chain of a tiny case, as the bundle tests run it: not the method's part
predicted = main(predict_argv(case, base / "predicted", model=bundle))
print(json.dumps({"steps": ckpt["config"]["steps"], "level": float(model.level), "mean": float(image[mask].mean()),
                  "map": float(scored.score[mask].mean()), "exported": exported, "predicted": predicted,
                  "outputs": sorted(p.name for p in (base / "predicted").rglob("*") if p.is_file())}))
"""


def add_toy(tree: Path) -> list[Path]:
    """The four files a new method touches, written into `tree`."""
    package = tree / "src" / "patch2loc" / "methods" / "toy" / "__init__.py"
    package.parent.mkdir()
    package.write_text(PACKAGE, encoding="utf-8")
    registry = tree / "src" / "patch2loc" / "registry.py"
    text = registry.read_text(encoding="utf-8")
    end = text.index("\n)\nMETHODS = ")  # the line goes last in REGISTRY
    registry.write_text(text[: end + 1] + REGISTRY_LINE + text[end + 1 :], encoding="utf-8")
    config = tree / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + CONFIG_BLOCK, encoding="utf-8")
    docs = tree / "docs" / "toy.md"
    docs.parent.mkdir(exist_ok=True)
    docs.write_text(DOCS_PAGE, encoding="utf-8")
    return [package, registry, config, docs]


def test_a_toy_method_in_four_files_trains_scores_bundles_and_predicts(tmp_path):
    tree = copy_workflow(tmp_path)
    assert len(add_toy(tree)) == 4

    dry = snakemake(tree, "-n", "--configfile", "config/demo.yaml", "--config", "methods=[Patch2Loc,Toy]")
    assert dry.returncode == 0, dry.stderr[-2000:]
    jobs = dry_run_jobs(dry.stdout)
    toy_jobs = {j["rule"] for j in jobs if "/Toy/" in j.get("output", "") or "method=Toy" in j.get("wildcards", "")}
    assert {"train_toy", "export_bundle_Toy"} <= toy_jobs, sorted(toy_jobs)
    assert {"score_healthy", "score_lesions"} <= {rule.removesuffix("_cpu") for rule in toy_jobs}, sorted(toy_jobs)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(REPO)])}
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tree)], cwd=tree, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["steps"] == 6  # the config block's steps, not the Settings default (100)
    assert abs(got["level"] - got["mean"]) < 0.05 * abs(got["mean"])  # it learnt the brain's mean
    assert got["map"] > 0 and got["exported"] == 0 and got["predicted"] == 0
    assert any(name.endswith(".nii.gz") for name in got["outputs"]), got["outputs"]
