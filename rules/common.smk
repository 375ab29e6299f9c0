# Config validation, subject lists, paths and input functions shared by every stage.
import csv
import functools
import math
import re
import sys
from pathlib import Path

import yaml
from snakemake.utils import min_version, validate

min_version("9.0")

validate(config, "../config/schema.yaml")

# The package's light modules (dataset layouts) are needed to build the DAG; the heavy ones run
# inside the rules' scripts. Importing from src/ works with or without `pip install -e .`.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from patch2loc.data.download import pinned  # noqa: E402
from patch2loc.data.layouts import LESION_DATASETS, MODALITIES, check_raw, raw_paths  # noqa: E402
from patch2loc.io import InputError  # noqa: E402
from patch2loc.layout import RunLayout  # noqa: E402  (every path under results/{run})
from patch2loc.methods import METHODS  # noqa: E402  (the registry: one line per method)

RUN = config["run_name"]
OUT = f"results/{RUN}"
LAYOUT = RunLayout(OUT)
RAW = config["raw_root"]
LOGS = LAYOUT.logs
FOLDS = [int(f) for f in config["folds"]]
DATASETS = list(config["datasets"])
LESION_SETS = [d for d in DATASETS if d in LESION_DATASETS]
# One model per modality; a modality is trained only if a lesion set needs it.
MODEL_MODALITIES = sorted({MODALITIES[d][0] for d in LESION_SETS}) or ["T1", "T2"]
# The methods this run scores: config `methods` (names of the registry patch2loc.methods), by
# default every method whose settings block the config has (or that needs none).
RUN_METHODS = list(config.get("methods") or [m.name for m in METHODS.values() if m.config in (None, *config)])
for _name in RUN_METHODS:
    if _name not in METHODS:
        raise WorkflowError(
            f"config `methods`: unknown method {_name!r}; known: {list(METHODS)} "
            "(src/patch2loc/methods/__init__.py; README, 'Adding a method')."
        )
    if METHODS[_name].config and METHODS[_name].config not in config:
        raise WorkflowError(
            f"config `methods` lists {_name}, whose settings block "
            f"`{METHODS[_name].config}:` the config lacks (config/config.yaml has one)."
        )
TRAINED_METHODS = [METHODS[m] for m in RUN_METHODS if METHODS[m].trains]


wildcard_constraints:
    dataset="|".join(MODALITIES),
    modality="T1|T2",
    fold=r"fold\d+|all",  # scores/: fold{k} for trained methods, all for fold-free ones (Thresh)
    method="|".join(METHODS),
    subject=r"[^/]+",


# ---------------------------------------------------------------- subject lists (splits/*.csv)
def _read_split(dataset):
    path = Path(config["splits_dir"]) / f"{dataset}.csv"
    if not path.exists():
        raise WorkflowError(
            f"{path}: subject list for {dataset} not found. Set `splits_dir` in the config to the "
            "folder holding IXI.csv and one csv per lesion dataset (see splits/README.md)."
        )
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _cap(subjects):
    cap = config.get("max_subjects")
    return subjects[:cap] if cap else subjects


def _unique(seq):
    return list(dict.fromkeys(seq))


def ixi_subjects(split, modality, fold=None):
    """IXI subjects of a split ('train', 'val', 'test'), for one fold, with a scan of `modality`."""
    rows = [
        r
        for r in _read_split("IXI")
        if r["split"] == split
        and (fold is None or r.get("fold", "") == str(fold))
        and (modality == "T1" or r.get("has_t2", "1").lower() in ("1", "true", "yes"))
    ]
    return _cap(_unique(r["subject_id"] for r in rows))


def lesion_subjects(dataset):
    return _cap(_unique(r["subject_id"] for r in _read_split(dataset)))


def subjects_of(dataset, modality):
    """Every scan of a dataset that the run uses (IXI: train/val pool and test)."""
    if dataset == "IXI":
        return _unique(ixi_subjects("train", modality) + ixi_subjects("val", modality) + ixi_subjects("test", modality))
    return lesion_subjects(dataset)


def all_scans():
    """(dataset, modality, subject) for every scan to preprocess."""
    scans = []
    for dataset in DATASETS:
        modalities = MODEL_MODALITIES if dataset == "IXI" else MODALITIES[dataset]
        for modality in modalities:
            scans += [(dataset, modality, s) for s in subjects_of(dataset, modality)]
    return scans


# ---------------------------------------------------------------- paths (patch2loc.layout)
preprocessed = LAYOUT.preprocessed
normalized = LAYOUT.normalized
model_dir = LAYOUT.model_dir
score_dir = LAYOUT.score_dir


def train_log(method):
    """logs/train/[{method}/]{modality}_fold{k}.log, the models' layout."""
    return str(Path(LOGS, "train", METHODS[method].models, "{modality}_fold{fold}.log"))


def model_checkpoint(modality, fold, method="Patch2Loc"):
    return LAYOUT.checkpoint(modality, fold, method)


def method_folds(method):
    return [f"fold{k}" for k in FOLDS] if METHODS[method].trains else ["all"]


def evaluated_combinations():
    """(method, modality, fold, dataset) for every lesion-set evaluation of the run."""
    return [
        (method, MODALITIES[d][0], fold, d)
        for method in RUN_METHODS
        for d in LESION_SETS
        for fold in method_folds(method)
    ]


def scan_files(dataset, modality, subjects):
    """Normalised images, brain masks and lesion masks of a list of subjects."""
    return {
        "images": [normalized(dataset, modality, s) for s in subjects],
        "masks": [preprocessed(dataset, modality, s, "mask.nii.gz") for s in subjects],
        "segs": [preprocessed(dataset, modality, s, "seg.nii.gz") for s in subjects] if dataset != "IXI" else [],
    }


# ---------------------------------------------------------------- preprocess inputs
def preprocess_params(wc):
    return {**config["preprocess"], "skull_strip": config["datasets"][wc.dataset]["skull_strip"]}


def qc_inputs(wc):
    subjects = subjects_of(wc.dataset, wc.modality)
    return [preprocessed(wc.dataset, wc.modality, s, "qc.json") for s in subjects]


# ---------------------------------------------------------------- normalize inputs
def landmark_inputs(wc):
    pool = _unique(ixi_subjects("train", wc.modality) + ixi_subjects("val", wc.modality))
    return {
        # the uncropped atlas-box volumes: Nyul sees the whole brain, crop/pad comes last
        "images": [preprocessed("IXI", wc.modality, s, "uncropped.nii.gz") for s in pool],
        "masks": [preprocessed("IXI", wc.modality, s, "uncropped_mask.nii.gz") for s in pool],
    }


# ---------------------------------------------------------------- train inputs
def train_inputs(wc):
    train = scan_files("IXI", wc.modality, ixi_subjects("train", wc.modality, wc.fold))
    val = scan_files("IXI", wc.modality, ixi_subjects("val", wc.modality, wc.fold))
    return {
        "train_images": train["images"],
        "train_masks": train["masks"],
        "val_images": val["images"],
        "val_masks": val["masks"],
    }


# ---------------------------------------------------------------- heatmaps inputs
def model_input(wc):
    trained = METHODS[wc.method].trains
    return [model_checkpoint(wc.modality, wc.fold[len("fold") :], wc.method)] if trained else []


# Device policy: GPU rules stop at once when CUDA is required and absent (paper: yes; demo: no).
REQUIRE_CUDA = bool(config.get("device", {}).get("require_cuda", False))

# Scoring rules come in two: methods with a network ask for a GPU (score_healthy, score_lesions),
# the others (Thresh) run on one CPU (score_healthy_cpu, score_lesions_cpu), so that a cluster
# profile can send each to its partition.
GPU_METHODS = "|".join(m.name for m in METHODS.values() if m.gpu) or "(?!)"
CPU_METHODS = "|".join(m.name for m in METHODS.values() if not m.gpu) or "(?!)"


def shard_size(dataset):
    """Volumes per scoring job of a lesion set (`evaluate.shard_size`; null: the whole set)."""
    size = config["evaluate"].get("shard_size")
    return size or max(1, len(lesion_subjects(dataset)))


def n_shards(dataset):
    return -(-len(lesion_subjects(dataset)) // shard_size(dataset))


def shard_subjects(dataset, shard):
    size = shard_size(dataset)
    return lesion_subjects(dataset)[shard * size : (shard + 1) * size]


def shard_runtime(dataset, minutes_per_volume):
    """A shard's time limit (minutes): its volumes at paper scale, at least 30."""
    return max(30, math.ceil(minutes_per_volume * len(shard_subjects(dataset, 0))))


def shard_files(wc, name):
    base = score_dir(wc.method, wc.modality, wc.fold, wc.dataset)
    return [f"{base}/shards/{k}/{name}" for k in range(n_shards(wc.dataset))]


# ---------------------------------------------------------------- evaluate inputs
def all_metrics():
    return [f"{score_dir(*c)}/metrics.csv" for c in evaluated_combinations()]


def all_patches(method=None):
    """patches.csv.gz of every lesion-set evaluation (of one method, when given)."""
    return [f"{score_dir(*c)}/patches.csv.gz" for c in evaluated_combinations() if method in (None, c[0])]


def all_benchmarks():
    """Benchmark files of the training and scoring jobs (Snakemake's `benchmark:`), one per job,
    in a folder per rule, each named after its method first ({method}_...)."""
    bench = LAYOUT.benchmarks
    files = [
        f"{bench}/{m.train_rule}/{m.name}_{modality}_fold{k}.tsv"
        for m in TRAINED_METHODS
        for modality in MODEL_MODALITIES
        for k in FOLDS
    ]
    files += [
        f"{bench}/score_healthy/{method}_{m}_{fold}.tsv"
        for method in RUN_METHODS
        for m in MODEL_MODALITIES
        for fold in method_folds(method)
    ]
    files += [
        f"{bench}/score_lesions/{method}_{modality}_{fold}_{d}_{k}.tsv"
        for method, modality, fold, d in evaluated_combinations()
        for k in range(n_shards(d))
    ]
    return files


# ---------------------------------------------------------------- report inputs
def all_heatmap_dirs(method="Patch2Loc"):
    """Heatmaps of a method's first fold (Thresh: 'all'): lesion sets (Fig. 4) and healthy IXI
    test (Fig. 5)."""
    if method not in RUN_METHODS:
        return []
    first = method_folds(method)[0]
    dirs = [f"{score_dir(method, MODALITIES[d][0], first, d)}/heatmaps" for d in LESION_SETS]
    dirs += [f"{score_dir(method, m, first, 'IXI')}/heatmaps" for m in MODEL_MODALITIES]
    return dirs


def healthy_metrics():
    """Each method's healthy IXI test metrics (first fold): the colour scale of its panels."""
    return [
        f"{score_dir(m, mod, method_folds(m)[0], 'IXI')}/metrics.csv" for m in RUN_METHODS for mod in MODEL_MODALITIES
    ]


def loss_curves():
    """loss.csv of every trained model of the run."""
    return [f"{model_dir(m.name, mod, k)}/loss.csv" for m in TRAINED_METHODS for mod in MODEL_MODALITIES for k in FOLDS]


# ---------------------------------------------------------------- heatmap viewers (rules/report.smk)
VIEWERS = LAYOUT.viewers


def viewer_combinations():
    """(method, modality, fold, dataset) of every heatmap folder: the lesion sets of each
    evaluated model and the healthy IXI test volumes its threshold comes from."""
    combos = set(evaluated_combinations())
    return sorted(combos | {(m, mod, f, "IXI") for m, mod, f, _ in combos})


def viewer_dirs():
    return [f"{VIEWERS}/{m}/{mod}/{f}/{d}" for m, mod, f, d in viewer_combinations()]


def kept_subjects(dataset, modality):
    """The volumes whose heatmaps scoring keeps: the first `evaluate.keep_heatmaps` (-1: all)."""
    subjects = ixi_subjects("test", modality) if dataset == "IXI" else lesion_subjects(dataset)
    keep = config["evaluate"]["keep_heatmaps"]
    return subjects if keep < 0 else subjects[:keep]


# ---------------------------------------------------------------- raw data inputs
MANUAL_DATASETS = ("BraTS21", "ATLAS_v2")  # owners require a registration: dropped in by hand
CHECKSUMS = f"{RAW}/checksums.tsv"
# Download sources: config/datasets.yaml unless the config's `sources` names another file (the
# offline rehearsal points it at a loopback server).
SOURCES = yaml.safe_load(Path(config.get("sources") or Path(workflow.basedir) / "config" / "datasets.yaml").read_text())


def _downloads():
    """dest (relative to raw_root) -> {url, extract_to, expected: the pinned checksum} for every
    configured file (a file_template pins a git blob id per subject: `gitblob: {subject: id}`)."""
    files = {}
    for dataset in [*DATASETS, "SRI24"]:
        entry = SOURCES.get(dataset, {})
        for f in entry.get("files", []):
            files[f["dest"]] = {**f, "expected": pinned(f)}
        for subject in lesion_subjects(dataset) if "file_template" in entry else []:
            for f in entry["file_template"]:
                one = {**f, "gitblob": (f.get("gitblob") or {}).get(subject)}
                files[f["dest"].format(subject=subject)] = {
                    **one,
                    "url": f["url"].format(subject=subject),
                    "dest": f["dest"].format(subject=subject),
                    "expected": pinned(one),
                }
    return files


DOWNLOADS = _downloads()
# extraction marker (relative to raw_root) -> archive (relative to raw_root)
EXTRACTS = {
    f"{f['extract_to']}/.extracted-{Path(dest).name}": dest for dest, f in DOWNLOADS.items() if f.get("extract_to")
}


def _one_of(names):
    return "|".join(re.escape(n) for n in names)


@functools.cache
def _check_manual(dataset):
    """Stop (dry runs too) with the owners' instructions while a manual dataset is missing."""
    try:
        check_raw(dataset, RAW, lesion_subjects(dataset))
    except InputError as err:
        raise WorkflowError(str(err)) from None


def raw_inputs(wc):
    """What a scan's preprocessing waits for: the demo's synthesis, a download, or the file itself."""
    if config["source"] == "demo":
        return f"{RAW}/{wc.dataset}/.complete"
    if wc.dataset in MANUAL_DATASETS:
        _check_manual(wc.dataset)
        scan = raw_paths(wc.dataset, RAW, wc.subject, wc.modality)
        return [str(scan.image), str(scan.seg)]
    if wc.dataset == "IXI":
        return f"{RAW}/IXI/IXI-{wc.modality}/.extracted-IXI-{wc.modality}.tar"
    if wc.dataset == "WMH":
        return f"{RAW}/WMH/.downloaded"
    scan = raw_paths(wc.dataset, RAW, wc.subject, wc.modality)  # MSLUB: per-file downloads
    return [str(scan.image), str(scan.seg), str(scan.mask)]  # its brain mask is downloaded too


# ---------------------------------------------------------------- skull strip inputs (rules/skullstrip.smk)
from patch2loc.preprocessing.skullstrip import hdbet_weights_file  # noqa: E402

HDBET = {"device": "cuda", "home": "data/hdbet", **config.get("hdbet", {})}
HDBET_WEIGHTS = str(hdbet_weights_file(HDBET["home"]))


def strip_mask(tool, dataset="{dataset}", modality="{modality}", subject="{subject}"):
    """Brain mask written by a skull-strip rule (native grid of the raw scan)."""
    return LAYOUT.path("skullstrip", tool, dataset, modality, subject, "brainmask.nii.gz")


def brain_mask_input(wc):
    """The skull-strip rule's mask for datasets stripped by a tool; nothing otherwise."""
    tool = config["datasets"][wc.dataset]["skull_strip"]
    return strip_mask(tool, wc.dataset, wc.modality, wc.subject) if tool in ("hdbet", "robex") else []


# ---------------------------------------------------------------- Snakemake's report
FIGURES = LAYOUT.figures


def heatmap_figures():
    """heatmaps_{dataset}_{modality}.png for every heatmap folder the panels are drawn from."""
    return [f"{FIGURES}/heatmaps_{Path(d).parent.name}_{Path(d).parents[2].name}.png" for d in all_heatmap_dirs()]


def report_csv(files, **kwargs):
    """Mark only the .csv of a multiext (csv, md, tex) group for Snakemake's report: the .md and
    .tex hold the same table."""
    return [report(f, **kwargs) if f.endswith(".csv") else f for f in files]
