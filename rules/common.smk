# Config validation, subject lists, paths and input functions shared by every stage.
import csv
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

validate(config, "../config/schema.yaml")

# The package's light modules (dataset layouts) are needed to build the DAG; the heavy ones run
# inside the rules' scripts. Importing from src/ works with or without `pip install -e .`.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from patch2loc.datasets import LESION_DATASETS, MODALITIES  # noqa: E402

RUN = config["run_name"]
OUT = f"results/{RUN}"
RAW = config["raw_root"]
LOGS = f"{OUT}/logs"
FOLDS = [int(f) for f in config["folds"]]
DATASETS = list(config["datasets"])
LESION_SETS = [d for d in DATASETS if d in LESION_DATASETS]
# One model per modality; a modality is trained only if a lesion set needs it.
MODEL_MODALITIES = sorted({MODALITIES[d][0] for d in LESION_SETS}) or ["T1", "T2"]

wildcard_constraints:
    dataset="|".join(MODALITIES),
    modality="T1|T2",
    fold=r"fold\d+|all",  # scores/: fold{k} for Patch2Loc, all for the fold-free Thresh
    method="Patch2Loc|Thresh",
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
        return _unique(
            ixi_subjects("train", modality)
            + ixi_subjects("val", modality)
            + ixi_subjects("test", modality)
        )
    return lesion_subjects(dataset)


def all_scans():
    """(dataset, modality, subject) for every scan to preprocess."""
    scans = []
    for dataset in DATASETS:
        modalities = MODEL_MODALITIES if dataset == "IXI" else MODALITIES[dataset]
        for modality in modalities:
            scans += [(dataset, modality, s) for s in subjects_of(dataset, modality)]
    return scans


# ---------------------------------------------------------------- paths
def preprocessed(dataset, modality, subject, name):
    return f"{OUT}/preprocessed/{dataset}/{modality}/{subject}/{name}"


def normalized(dataset, modality, subject):
    return f"{OUT}/normalized/{dataset}/{modality}/{subject}/image.nii.gz"


def model_checkpoint(modality, fold):
    return f"{OUT}/models/{modality}/fold{fold}/best.pt"


def score_dir(method, modality, fold, dataset):
    """fold is 'fold{k}' for Patch2Loc and 'all' for the fold-free Thresh baseline."""
    return f"{OUT}/scores/{method}/{modality}/{fold}/{dataset}"


def method_folds(method):
    return [f"fold{k}" for k in FOLDS] if method == "Patch2Loc" else ["all"]


def evaluated_combinations():
    """(method, modality, fold, dataset) for every lesion-set evaluation of the run."""
    return [
        (method, MODALITIES[d][0], fold, d)
        for method in ("Patch2Loc", "Thresh")
        for d in LESION_SETS
        for fold in method_folds(method)
    ]


def scan_files(dataset, modality, subjects):
    """Normalised images, brain masks and lesion masks of a list of subjects."""
    return {
        "images": [normalized(dataset, modality, s) for s in subjects],
        "masks": [preprocessed(dataset, modality, s, "mask.nii.gz") for s in subjects],
        "segs": [preprocessed(dataset, modality, s, "seg.nii.gz") for s in subjects]
        if dataset != "IXI"
        else [],
    }


# ---------------------------------------------------------------- provenance
rule run_info:
    output:
        config=f"{OUT}/config.resolved.yaml",
        versions=f"{OUT}/versions.txt",
    params:
        config=config,
    log:
        f"{LOGS}/run_info.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/run_info.py"
