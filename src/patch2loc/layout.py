"""Where a run's files are: the one place that spells the paths under results/{run_name}/.

The workflow (rules/common.smk), `patch2loc predict --from-run`, `patch2loc export`, the figures
script and the tests all ask a `RunLayout` instead of writing paths themselves. Paths are
returned as strings so that Snakemake patterns with open wildcards ("{modality}") pass through.

    config.resolved.yaml, versions.txt     the run's resolved config and package versions
    atlas/image.nii.gz, atlas/mask.nii.gz  the registration atlas the run used (rule record_atlas)
    landmarks/{modality}.npy               Nyul landmarks, [2, L]
    preprocessed/, normalized/             per (dataset, modality, subject)
    models/[{method}/]{modality}/fold{k}/  best.pt, last.pt, loss.csv (Patch2Loc: no method part)
    scores/{method}/{modality}/{fold}/{dataset}/   fold: fold{k}, or "all" for fold-free methods;
                                           IXI/threshold.json is the unsupervised threshold
    bundles/[{method}/]{modality}.zip      the exported models (patch2loc export; Patch2Loc: no method part)

This module imports only the method registry (itself light): the workflow reads it to build the DAG.
"""
from __future__ import annotations

import re
from pathlib import Path

from patch2loc.methods import DEFAULT_METHOD, METHODS


class RunLayout:
    def __init__(self, root: str | Path):
        self.root = str(root)

    def path(self, *parts: str) -> str:
        return str(Path(self.root, *parts))  # "" parts drop out (Patch2Loc's model folder)

    # ------------------------------------------------------------ provenance and the chain
    @property
    def config(self) -> str:
        return self.path("config.resolved.yaml")

    @property
    def versions(self) -> str:
        return self.path("versions.txt")

    @property
    def atlas_image(self) -> str:
        return self.path("atlas", "image.nii.gz")

    @property
    def atlas_mask(self) -> str:
        return self.path("atlas", "mask.nii.gz")

    def landmarks(self, modality: str = "{modality}") -> str:
        return self.path("landmarks", f"{modality}.npy")

    @property
    def logs(self) -> str:
        return self.path("logs")

    # ------------------------------------------------------------ scans
    def preprocessed(self, dataset: str, modality: str, subject: str, name: str) -> str:
        return self.path("preprocessed", dataset, modality, subject, name)

    def normalized(self, dataset: str, modality: str, subject: str) -> str:
        return self.path("normalized", dataset, modality, subject, "image.nii.gz")

    # ------------------------------------------------------------ models and scores
    def model_dir(self, method: str, modality: str = "{modality}", fold="{fold}", root: str = "models") -> str:
        """A trained method's folder of one (modality, fold); root="resume/models" gives the
        training's working folder."""
        return self.path(root, METHODS[method].models, modality, f"fold{fold}")

    def checkpoint(self, modality: str, fold, method: str = DEFAULT_METHOD) -> str:
        return str(Path(self.model_dir(method, modality, fold), "best.pt"))

    def fold_checkpoints(self, modality: str, method: str = DEFAULT_METHOD) -> dict[int, Path]:
        """{fold: best.pt} of every fold the run trained (on disk now)."""
        root = Path(self.root, "models", METHODS[method].models, modality)
        return {int(m.group(1)): p for p in sorted(root.glob("fold*/best.pt"))
                if (m := re.fullmatch(r"fold(\d+)", p.parent.name))}

    def score_dir(self, method: str, modality: str, fold: str, dataset: str) -> str:
        """fold is 'fold{k}' for trained methods and 'all' for fold-free ones (Thresh)."""
        return self.path("scores", method, modality, fold, dataset)

    def threshold(self, method: str, modality: str, fold: str) -> str:
        """The unsupervised threshold (healthy IXI test quantile) of one model."""
        return str(Path(self.score_dir(method, modality, fold, "IXI"), "threshold.json"))

    # ------------------------------------------------------------ outputs of the last stages
    def bundle(self, modality: str = "{modality}", method: str = DEFAULT_METHOD) -> str:
        """The exported model of a trained method, in its models folder's name (Patch2Loc: none)."""
        return self.path("bundles", METHODS[method].models, f"{modality}.zip")

    @property
    def figures(self) -> str:
        return self.path("figures")

    @property
    def viewers(self) -> str:
        return self.path("viewers")

    @property
    def benchmarks(self) -> str:
        return self.path("benchmarks")

    @property
    def tables(self) -> str:
        return self.path("tables")

    @property
    def qc(self) -> str:
        return self.path("qc")

    @property
    def report(self) -> str:
        return self.path("report.html")
