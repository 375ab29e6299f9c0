"""Where a run's files are: the one place that names the files under results/{run_name}/, and
that reads a path back into its keys (dataset, method, modality, fold, subject).

The workflow (rules/), its scripts, `patch2loc predict --from-run`, `patch2loc export` and the
tests ask a `RunLayout` instead of writing paths themselves, and `RunLayout.parse` instead of
taking a path apart by position. Paths are strings, so that Snakemake patterns with open
wildcards ("{modality}") pass through; a key left out is such an open wildcard.

    config.resolved.yaml, versions.txt     the run's resolved config and package versions
    atlas/image.nii.gz, atlas/mask.nii.gz  the registration atlas the run used (rule record_atlas)
    landmarks/{modality}.npy               Nyul landmarks, [2, L]
    skullstrip/{tool}/{dataset}/{modality}/{subject}/brainmask.nii.gz   (native grid)
    preprocessed/, normalized/             per (dataset, modality, subject); a model input of several
                                           contrasts (T1T2): its stack, one channel per contrast
    inputs/{modality}.csv                  an input of several contrasts: its subjects per fold and split,
                                           and those left out for lacking a contrast
    models/[{method}/]{modality}/fold{k}/  best.pt, last.pt, loss.csv (Patch2Loc: no method part);
                                           resume/models/... while training; a method's pre-training
                                           (registry `pretrain`, cDDPM) in models/{its folder}/...
    scores/{method}/{modality}/{fold}/{dataset}/   fold: fold{k}, or "all" for fold-free methods;
                                           SCORE_FILES: metrics.csv, lesions.csv (lesion sets),
                                           patches.csv.gz, pooled.npz (lesion sets: docs/protocols.md),
                                           heatmaps/{subject}.nii.gz, shards/{k}/
                                           (temporary); IXI/threshold.json is the unsupervised threshold
    viewers/niivue.umd.js, viewers/{method}/{modality}/{fold}/{dataset}/{subject}.html
    bundles/[{method}/]{modality}.zip      the exported models (patch2loc export; Patch2Loc: no method part)
    figures/{kind}_{keys}.png, figures/figures.json; tables/ (table1, table2, table3, bias, ...);
    qc/{dataset}_{modality}.{csv,html}
    logs/{stage}/{keys}.log, benchmarks/{rule}/{keys}.tsv; report.html

The path templates and reading a path back are in run/paths.py. Both import only the method registry
(itself light): the workflow reads them to build the DAG.
"""

from __future__ import annotations

import re
from pathlib import Path

from patch2loc.registry import DEFAULT_METHOD, METHODS
from patch2loc.run.paths import FIGURES, PATHS, parse_path

RESULTS = "results"  # the folder of the runs: results/{run_name}
ALL_FOLDS = "all"  # the fold part of the score paths of a method that trains nothing (Thresh)
MODEL_FILES = ("best.pt", "last.pt", "loss.csv")  # what training writes into a model's folder
# A scoring's files (scores/{method}/{modality}/{fold}/{dataset}/): lesion sets write the first five
# (lesions.csv: one row per ground-truth lesion), healthy IXI metrics.csv, heatmaps and threshold.json.
SCORE_FILES = ("metrics.csv", "lesions.csv", "patches.csv.gz", "pooled.npz", "tuning.npz", "heatmaps", "threshold.json")


def _under_run(*parts: str) -> property:
    """A path of the run that takes no keys: `parts` under its folder."""
    return property(lambda layout: layout.path(*parts), doc="/".join(parts))


class RunLayout:
    def __init__(self, root: str | Path):
        self.root = str(root)

    @classmethod
    def of_run(cls, run_name: str) -> "RunLayout":
        """The layout of config `run_name`'s run: results/{run_name}."""
        return cls(str(Path(RESULTS, run_name)))

    def path(self, *parts: str) -> str:
        return str(Path(self.root, *parts))  # "" parts drop out (Patch2Loc's model folder)

    def _of(self, which: str, **keys) -> str:
        return self.path(PATHS[which].format(**keys))

    # ------------------------------------------------------------ provenance and the chain
    config = _under_run("config.resolved.yaml")
    versions = _under_run("versions.txt")
    atlas_image = _under_run("atlas", "image.nii.gz")
    atlas_mask = _under_run("atlas", "mask.nii.gz")

    def landmarks(self, modality: str = "{modality}") -> str:
        return self.path("landmarks", f"{modality}.npy")

    logs = _under_run("logs")

    def log(self, stage: str, *keys: str) -> str:
        """logs/{stage}/{key}_{key}....log (logs/{stage}.log without keys)."""
        return self.path("logs", stage, "_".join(keys) + ".log") if keys else self.path("logs", f"{stage}.log")

    def benchmark(self, rule: str, *keys: str) -> str:
        """benchmarks/{rule}/{key}_{key}....tsv: one job's Snakemake benchmark file."""
        return self.path("benchmarks", rule, "_".join(keys) + ".tsv")

    # ------------------------------------------------------------ scans
    def preprocessed(
        self,
        dataset: str = "{dataset}",
        modality: str = "{modality}",
        subject: str = "{subject}",
        name: str = "image.nii.gz",
    ) -> str:
        return self._of("preprocessed", dataset=dataset, modality=modality, subject=subject, name=name)

    def normalized(self, dataset: str = "{dataset}", modality: str = "{modality}", subject: str = "{subject}") -> str:
        return self._of("normalized", dataset=dataset, modality=modality, subject=subject)

    def skull_mask(
        self, tool: str, dataset: str = "{dataset}", modality: str = "{modality}", subject: str = "{subject}"
    ) -> str:
        """A skull-strip rule's brain mask (native grid of the raw scan)."""
        return self._of("skull_mask", tool=tool, dataset=dataset, modality=modality, subject=subject)

    def input_subjects(self, modality: str = "{modality}") -> str:
        """inputs/{modality}.csv: a model input of several contrasts, its subjects and those left out."""
        return self.path("inputs", f"{modality}.csv")

    def qc(self, dataset: str = "{dataset}", modality: str = "{modality}", ext: str = "csv") -> str:
        return self.path("qc", f"{dataset}_{modality}.{ext}")

    # ------------------------------------------------------------ models
    @staticmethod
    def _models(method: str, pretraining: bool) -> str:
        """The method's model folder, or with `pretraining` its pre-training's (registry `pretrain`)."""
        return METHODS[method].pretrain.models if pretraining else METHODS[method].models

    def model_dir(
        self, method: str, modality: str = "{modality}", fold="{fold}", root: str = "models", pretraining: bool = False
    ) -> str:
        """A trained method's folder of one (modality, fold); root="resume/models" gives the
        training's working folder; `pretraining`: its pre-training's folder instead."""
        models = self._models(method, pretraining)
        return self._of("model_dir", root=root, models=f"{models}/" if models else "", modality=modality, fold=fold)

    def model_file(
        self,
        method: str,
        name: str,
        modality: str = "{modality}",
        fold="{fold}",
        root: str = "models",
        pretraining: bool = False,
    ) -> str:
        """best.pt, last.pt or loss.csv (MODEL_FILES) of a trained method's model (or pre-training)."""
        return str(Path(self.model_dir(method, modality, fold, root, pretraining), name))

    def checkpoint(self, modality: str, fold, method: str = DEFAULT_METHOD) -> str:
        return self.model_file(method, "best.pt", modality, fold)

    def fold_checkpoints(self, modality: str, method: str = DEFAULT_METHOD) -> dict[int, Path]:
        """{fold: best.pt} of every fold the run trained (on disk now)."""
        root = Path(self.model_dir(method, modality, 0)).parent
        return {
            int(m.group(1)): p
            for p in sorted(root.glob("fold*/best.pt"))
            if (m := re.fullmatch(r"fold(\d+)", p.parent.name))
        }

    def train_log(self, method: str, pretraining: bool = False) -> str:
        """logs/train/[{method}/]{modality}_fold{fold}.log, in the models' layout."""
        return self.path("logs", "train", self._models(method, pretraining), "{modality}_fold{fold}.log")

    # ------------------------------------------------------------ scores
    @staticmethod
    def fold_name(k) -> str:
        """A trained model's fold in score paths (fold{k}); fold-free methods' is ALL_FOLDS."""
        return f"fold{k}"

    @staticmethod
    def fold_number(name: str) -> int | None:
        """fold{k} -> k; ALL_FOLDS (a method without folds) -> None."""
        found = re.fullmatch(r"fold(\d+)", name)
        return int(found.group(1)) if found else None

    def score_dir(
        self, method: str = "{method}", modality: str = "{modality}", fold: str = "{fold}", dataset: str = "{dataset}"
    ) -> str:
        """fold is 'fold{k}' for trained methods and 'all' for fold-free ones (Thresh)."""
        return self.path("scores", method, modality, fold, dataset)

    def scores(self, name: str, method="{method}", modality="{modality}", fold="{fold}", dataset="{dataset}") -> str:
        """A file of a scoring (SCORE_FILES): metrics.csv, lesions.csv, patches.csv.gz, heatmaps (the
        folder), threshold.json."""
        assert name in SCORE_FILES, name
        return self._of("scores", method=method, modality=modality, fold=fold, dataset=dataset, name=name)

    def shard(
        self, name: str, method="{method}", modality="{modality}", fold="{fold}", dataset="{dataset}", shard="{shard}"
    ) -> str:
        """A file of one shard of a lesion set's scoring (merged by merge_score_shards)."""
        assert name in SCORE_FILES, name
        return str(Path(self.score_dir(method, modality, fold, dataset), "shards", str(shard), name))

    def threshold(self, method: str, modality: str, fold: str) -> str:
        """The unsupervised threshold (healthy IXI test quantile) of one model."""
        return self.scores("threshold.json", method, modality, fold, "IXI")

    # ------------------------------------------------------------ outputs of the last stages
    def bundle(self, modality: str = "{modality}", method: str = DEFAULT_METHOD) -> str:
        """The exported model of a trained method, in its models folder's name (Patch2Loc: none)."""
        return self.path("bundles", METHODS[method].models, f"{modality}.zip")

    def bundle_log(self, method: str) -> str:
        """logs/bundles/[{method}/]{modality}.log, in the bundles' layout."""
        return self.path("logs", "bundles", METHODS[method].models, "{modality}.log")

    def figure(self, kind: str, *keys: str) -> str:
        """figures/{kind}_{keys}.png, keys in the order FIGURES gives for the kind."""
        assert len(keys) == len(FIGURES[kind]), (kind, keys)
        return self._of("figure", kind=kind, keys="_".join(keys))

    def viewer_dir(
        self, method: str = "{method}", modality: str = "{modality}", fold: str = "{fold}", dataset: str = "{dataset}"
    ) -> str:
        return self._of("viewers", method=method, modality=modality, fold=fold, dataset=dataset)

    def viewer_pages(self) -> list[Path]:
        """Every viewer page of the run (on disk now), sorted."""
        return sorted(Path(self.viewers).glob("*/*/*/*/*.html"))

    viewer_library = _under_run("viewers", "niivue.umd.js")

    def table(self, name: str) -> str:
        return self.path("tables", name)

    figures = _under_run("figures")
    figures_manifest = _under_run("figures", "figures.json")
    viewers = _under_run("viewers")
    benchmarks = _under_run("benchmarks")
    tables = _under_run("tables")
    report = _under_run("report.html")

    parse = staticmethod(parse_path)  # reading a path back: run/paths.py
