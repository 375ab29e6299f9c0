"""How the seed study (demo_seeds.py) reads a demo run and grades a variant's models: the run's config
and input sets, the lesion-set scans of a split, each scan graded on its own grid as the run does,
and the AUPRC of Patch2Loc's and Thresh's maps per dataset."""

from __future__ import annotations

import statistics
from pathlib import Path

import yaml

DATASETS = {"T1": ("ATLAS_v2", "WMH"), "T2": ("BraTS21", "MSLUB")}  # the paper's: what the demo checks


def input_sets(config: dict, name: str) -> tuple[str, ...]:
    """The lesion sets a model input is scored on here: T1 and T2 their paper sets, another input of the
    config (`--inputs T1T2`, docs/multimodal.md) every set whose contrasts it has."""
    from patch2loc.data.inputs import set_inputs

    if name in DATASETS:
        return DATASETS[name]
    inputs = config.get("inputs") or {}
    if name not in inputs:
        raise SystemExit(f"--inputs {name}: not an input of the config (its inputs: {sorted(inputs)})")
    return tuple(d for d in config["datasets"] if d != "IXI" and name in set_inputs(inputs, config, d))


def load_config(paths: list[str], sets: list[str]) -> dict:
    """The configfiles as the workflow reads them (patch2loc.run.configfiles: `extends`, `drop`, later
    keys winning), then --set."""
    from patch2loc.run.configfiles import load

    config = load(paths)
    for item in sets:
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = config
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return config


def run_scans(run: str, config: dict, dataset: str, modality: str, split: str = "test", fold: int | None = None):
    from patch2loc.data.splits import load_subjects
    from patch2loc.run.layout import RunLayout

    lay = RunLayout(run)
    contrasts = (config.get("inputs") or {}).get(modality) or [modality]
    if dataset == "IXI" and len(contrasts) > 1:  # a stack: the subjects with every contrast (rule input_subjects)
        from patch2loc.data.inputs import covered

        subjects = covered([load_subjects(config["splits_dir"], dataset, split, fold, c) for c in contrasts])[0]
    else:
        subjects = load_subjects(config["splits_dir"], dataset, split, fold, contrasts[0])
    seg = (lambda s: lay.preprocessed(dataset, modality, s, "seg.nii.gz")) if dataset != "IXI" else (lambda s: None)
    return [
        (s, lay.normalized(dataset, modality, s), lay.preprocessed(dataset, modality, s, "mask.nii.gz"), seg(s))
        for s in subjects
    ]


def scan_for_grading(run: str, config: dict, dataset: str, modality: str, subject: str, image, mask, seg):
    """The workflow's Scan of one lesion-set volume, with its native files when the run scores on each
    scan's own grid (evaluate.space native, as rule score_lesions: workflow/scripts/score_dataset.py)."""
    from patch2loc.data.inputs import input_contrasts
    from patch2loc.evaluation.dataset.scan_grid import NativeFiles
    from patch2loc.evaluation.dataset.score_dataset import Scan
    from patch2loc.run.layout import RunLayout

    scan = Scan(subject, str(image), str(mask), str(seg))
    if config["evaluate"].get("space") == "native":
        lay = RunLayout(run)
        reference = input_contrasts(config, modality, "config `inputs`")[0]
        native = lay.preprocessed(dataset, reference, subject, "native_mask.nii.gz")
        transform = lay.preprocessed(dataset, reference, subject, "transform.tfm")
        scan.native = NativeFiles.of_raw(dataset, config["raw_root"], subject, reference, native, transform)
    return scan


def _auprcs(run: str, config: dict, modality: str, method: str, model) -> dict:
    """Per lesion set of the modality: mean AUPRC over its test volumes, scored and graded as the
    workflow does (on each scan's own grid when the run's evaluate.space is native, as the demo's
    checks are)."""
    from patch2loc.scoring.metrics import evaluate_volume
    from patch2loc.evaluation.dataset.grading import graded
    from patch2loc.evaluation.dataset.score_dataset import ScoringConfig, score_case
    from patch2loc.preprocessing.stack import load_any_case

    cfg = ScoringConfig.from_workflow(
        config["heatmap"], config["evaluate"], config["patch2loc"].get("patch_size"), device="cpu"
    )
    out = {}
    for dataset in input_sets(config, modality):
        values = []
        for subject, image, mask, seg in run_scans(run, config, dataset, modality):
            case = load_any_case(image, mask, seg)
            vol = score_case(method, case.image.data, case.mask, cfg, model)
            scan = scan_for_grading(run, config, dataset, modality, subject, image, mask, seg)
            score, truth, brain, _, _ = graded(scan, vol, case, cfg, dataset)
            values.append(evaluate_volume(score, truth, brain, region=cfg.region)["auprc"])
        out[dataset] = statistics.fmean(values)
    return out


def run_task(run: str, config: dict, modality: str, out_dir: Path, threads: int) -> dict:
    """Train one Patch2Loc model (or reuse a finished one in out_dir) and score its lesion sets."""
    import pandas as pd

    from patch2loc.registry import implementation

    fold = config["folds"][0]
    pairs = {
        split: [(img, mask) for _, img, mask, _ in run_scans(run, config, "IXI", modality, split, fold)]
        for split in ("train", "val")
    }
    method = implementation("Patch2Loc")
    method.train_from_files(
        pairs["train"],
        pairs["val"],
        dict(config["patch2loc"]),
        out_dir,
        modality=modality,
        threads=threads,
        progress=False,
    )
    model, _ = method.load(out_dir / "best.pt", "cpu")
    last = pd.read_csv(out_dir / "loss.csv").iloc[-1]
    return {
        "location_ratio": float(last["val_error"] / last["centre_error"]),
        "auprc": _auprcs(run, config, modality, "Patch2Loc", model),
    }


def thresh_auprcs(run: str, config: dict) -> dict:
    return {d: v for m in DATASETS for d, v in _auprcs(run, config, m, "Thresh", None).items()}
