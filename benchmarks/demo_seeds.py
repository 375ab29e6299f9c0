"""Seed and kernel study of a demo's Patch2Loc evidence: does every demo check hold for every seed,
both training precisions and other CPU kernels?

    python benchmarks/demo_seeds.py results/demo --configfile config/demo.yaml \
        --seeds 1 2 3 4 5 --amp none bf16 --kernels default --out results/seed_study/demo
    python benchmarks/demo_seeds.py results/demo --configfile config/demo.yaml \
        --seeds 3141 --kernels avx2 threads2 --out results/seed_study/demo
    python benchmarks/demo_seeds.py results/demo --variants 3141:none:default 3141:bf16:default \
        3141:none:avx2 --out results/seed_study/demo      # one table of the variants run above
    python benchmarks/demo_seeds.py results/demo_long --configfile config/demo.yaml \
        config/demo_long.yaml --seeds 3141 1 2 --checks long --reuse-run --out results/seed_study/long
    python benchmarks/demo_seeds.py results/demo_long --configfile config/demo.yaml \
        config/demo_long.yaml --inputs T1T2 --seeds 3141 1 2 --checks long --reuse-run --out results/seed_study/t1t2

Takes a finished demo run (its normalised volumes, masks, lesion masks and splits) and, per
variant (seed x training precision x kernel) and model input (T1, T2; `--inputs T1T2`: the run's
stacks, scored on every set that has both contrasts, against Thresh's single-contrast AUPRC and
the same set's bar), trains Patch2Loc with the config's
`patch2loc:` block (seed and amp replaced), scores that modality's lesion sets with the config's
`heatmap:` settings through the workflow's own scoring code, and prints per variant the location
ratio of each model (final validation error / mean-position error) and Patch2Loc's AUPRC over
Thresh's per lesion set, PASS/FAIL by the demo's own checks (`demo_summary`, --checks demo|long),
then min / median / max. Thresh needs no training: its maps are the same for every variant.

Kernels stand in for another CPU family on one machine: `default` (what PyTorch picks here),
`avx2` (oneDNN limited to AVX2 by ONEDNN_MAX_CPU_ISA, MKL by MKL_ENABLE_INSTRUCTIONS),
`avx512` (ONEDNN_MAX_CPU_ISA=AVX512_CORE: no bf16/AMX kernels), `zen4` (what an AVX512-BF16 AMD
EPYC gets: oneDNN without AMX, MKL's AVX2 path), `threads2` (two threads instead of
the config's). Each task runs in its own process (the variables are read when torch loads), two at
a time by default; a task whose result.json exists with the same settings is not run again, so an
interrupted study resumes. `--set patch2loc.lr_schedule=cosine` changes a config key for every variant
(the old name `train.lr_schedule` is read as it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

KERNELS = {
    "default": {},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
    # What an AVX512-BF16 AMD EPYC (Zen 4) gets: oneDNN's avx512_core_bf16 kernels (no AMX), MKL's AVX2 path.
    "zen4": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "threads2": {},
}
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
    """The configfiles merged as Snakemake merges them (later keys win, dicts merged), then --set."""

    def merge(base: dict, over: dict) -> dict:
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    config: dict = {}
    for path in paths:
        config = merge(config, yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    for item in sets:
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = config
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return config


def _scans(run: str, config: dict, dataset: str, modality: str, split: str = "test", fold: int | None = None):
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


def _scan_for_grading(run: str, config: dict, dataset: str, modality: str, subject: str, image, mask, seg):
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
    from patch2loc.evaluation.dataset.score_dataset import ScoringConfig, graded, score_case
    from patch2loc.preprocessing.stack import load_any_case

    cfg = ScoringConfig.from_workflow(
        config["heatmap"], config["evaluate"], config["patch2loc"].get("patch_size"), device="cpu"
    )
    out = {}
    for dataset in input_sets(config, modality):
        values = []
        for subject, image, mask, seg in _scans(run, config, dataset, modality):
            case = load_any_case(image, mask, seg)
            vol = score_case(method, case.image.data, case.mask, cfg, model)
            scan = _scan_for_grading(run, config, dataset, modality, subject, image, mask, seg)
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
        split: [(img, mask) for _, img, mask, _ in _scans(run, config, "IXI", modality, split, fold)]
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


def _child(args) -> int:
    """One task in this process (the kernel variables were set by the parent)."""
    config = json.loads(Path(args.task_config).read_text(encoding="utf-8"))
    out = Path(args.task_out)
    result = run_task(args.run_dir, config, args.modality, out, config["patch2loc"]["threads"])
    (out / "result.json").write_text(
        json.dumps({"settings": config["patch2loc"], **result}, indent=1), encoding="utf-8"
    )
    return 0


def _reuse_run_model(run: str, config: dict, modality: str, folder: Path) -> None:
    """The run's own model of this modality as the variant's finished training (--reuse-run): the
    workflow trained it with the same seed, settings and code, so the study would retrain the same
    weights (the quick demo's 3141 row equals make demo's); the trainer's resume check still
    compares its settings and subjects with the study's and refuses a model that differs."""
    import shutil

    from patch2loc.run.layout import MODEL_FILES, RunLayout

    source = Path(RunLayout(run).model_dir("Patch2Loc", modality, config["folds"][0]))
    for name in MODEL_FILES:
        if not (folder / name).exists():
            shutil.copyfile(source / name, folder / name)


def _launch(
    run: str, config: dict, seed: int, amp: str, kernel: str, modality: str, out: Path, reuse: bool = False
) -> dict:
    train = {**config["patch2loc"], "seed": seed, "amp": amp}
    if kernel == "threads2":
        train["threads"] = 2
    task_config = {**config, "patch2loc": train}
    folder = out / f"seed{seed}_{amp}_{kernel}" / modality
    result = folder / "result.json"
    if result.exists() and json.loads(result.read_text(encoding="utf-8"))["settings"] == train:
        return json.loads(result.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    if reuse and (seed, amp, kernel) == (config["patch2loc"]["seed"], config["patch2loc"]["amp"], "default"):
        _reuse_run_model(run, config, modality, folder)
    (folder / "task.json").write_text(json.dumps(task_config), encoding="utf-8")
    env = {**os.environ, **KERNELS[kernel], "OMP_NUM_THREADS": str(train["threads"])}
    cmd = [
        sys.executable,
        __file__,
        run,
        "--task-config",
        str(folder / "task.json"),
        "--task-out",
        str(folder),
        "--modality",
        modality,
    ]
    with open(folder / "log.txt", "w", encoding="utf-8") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    return json.loads(result.read_text(encoding="utf-8"))


def _values(row: dict, thresh: dict, inputs: list[str], order: list[str]) -> dict[str, float]:
    """A variant's location ratio per input, then Patch2Loc / Thresh per set: the paper's inputs' sets
    by their own name in the checks' order, another input's as "set [input]" after them."""
    values = {f"loc {i}": row[i]["location_ratio"] for i in inputs}
    ratios = {
        (d if i in DATASETS else f"{d} [{i}]"): row[i]["auprc"][d] / thresh[d] for i in inputs for d in row[i]["auprc"]
    }
    rank = {d: k for k, d in enumerate(order)}
    return values | dict(sorted(ratios.items(), key=lambda kv: rank.get(kv[0], len(order))))


def summarize(rows: list[dict], thresh: dict, checks: str, inputs: list[str] = list(DATASETS)) -> list[str]:
    from patch2loc.evaluation.report.demo_summary import AUPRC_CHECKS, LOCATION_RATIO

    table = [_values(r, thresh, inputs, list(AUPRC_CHECKS[checks])) for r in rows]
    names = list(table[0])
    lines = [
        "| seed | amp | kernel | "
        + " | ".join(k if k.startswith("loc ") else f"{k} /Thresh" for k in names)
        + " | checks |",
        "| --- " * (4 + len(names)) + "|",
    ]
    for r, values in zip(rows, table):  # the demo's checks: every location ratio, every set's bar (its own
        ok = all(v <= LOCATION_RATIO for k, v in values.items() if k.startswith("loc "))  # input's or another's)
        for d, (minimum, strict) in AUPRC_CHECKS[checks].items():
            for v in (v for k, v in values.items() if k == d or k.startswith(f"{d} [")):
                ok &= v > minimum if strict else v >= minimum
        lines.append(
            f"| {r['seed']} | {r['amp']} | {r['kernel']} | "
            + " | ".join(f"{values[k]:.2f}" for k in names)
            + f" | {'PASS' if ok else 'FAIL'} |"
        )
    for name, f in (("min", min), ("median", statistics.median), ("max", max)):
        lines.append(f"| {name} | | | " + " | ".join(f"{f([v[k] for v in table]):.2f}" for k in names) + " | |")
    passed = sum(line.endswith("| PASS |") for line in lines)
    lines.append(
        f"\n{passed} of {len(rows)} variants pass every check ({checks}); "
        f"Thresh AUPRC: " + ", ".join(f"{d} {100 * v:.2f} %" for d, v in thresh.items())
    )
    return lines


def _variant(text: str) -> tuple[int, str, str]:
    parts = text.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or parts[1] not in ("none", "bf16") or parts[2] not in KERNELS:
        raise SystemExit(f"--variants {text}: want SEED:AMP:KERNEL with AMP none|bf16, KERNEL one of {sorted(KERNELS)}")
    return int(parts[0]), parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a finished demo run (results/demo, results/demo_long)")
    ap.add_argument("--configfile", nargs="+", default=["config/demo.yaml"], help="as given to snakemake")
    ap.add_argument("--set", action="append", default=[], help="KEY.SUB=VALUE override (YAML value)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[3141])
    ap.add_argument("--amp", nargs="+", default=["none"], choices=["none", "bf16"])
    ap.add_argument("--kernels", nargs="+", default=["default"], choices=sorted(KERNELS))
    ap.add_argument(
        "--variants",
        nargs="+",
        metavar="SEED:AMP:KERNEL",
        help="these variants instead of the product of --seeds, --amp and --kernels (one table of a "
        "whole study: finished variants are read back, not run again)",
    )
    ap.add_argument(
        "--reuse-run",
        action="store_true",
        help="take the run's own Patch2Loc models for the variant of the config's seed and amp with "
        "the default kernels instead of training them again (a demo-long training is 3,000 steps)",
    )
    ap.add_argument(
        "--inputs",
        nargs="+",
        default=list(DATASETS),
        help="model inputs to train per variant: T1 and T2 (the paper's, the default) and/or an input of "
        "several contrasts the config lists (T1T2: scored on every set that has them, docs/multimodal.md)",
    )
    ap.add_argument("--checks", default="demo", choices=["demo", "long"])
    ap.add_argument("--jobs", type=int, default=2, help="tasks side by side")
    ap.add_argument("--out", default="results/seed_study/demo")
    ap.add_argument("--task-config", help=argparse.SUPPRESS)
    ap.add_argument("--task-out", help=argparse.SUPPRESS)
    ap.add_argument("--modality", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.task_config:
        return _child(args)

    config = load_config(args.configfile, args.set)
    for name in args.inputs:
        input_sets(config, name)  # an input the config lacks: one line before any training
    out = Path(args.out)
    variants = list(itertools.product(args.seeds, args.amp, args.kernels))
    if args.variants:
        variants = [_variant(text) for text in args.variants]
    with ThreadPoolExecutor(args.jobs) as pool:
        thresh_future = pool.submit(thresh_auprcs, args.run_dir, config)
        futures = {
            (v, m): pool.submit(_launch, args.run_dir, config, *v, m, out, args.reuse_run)
            for v in variants
            for m in args.inputs
        }
        rows = [
            {"seed": s, "amp": a, "kernel": k, **{m: futures[((s, a, k), m)].result() for m in args.inputs}}
            for s, a, k in variants
        ]
        thresh = thresh_future.result()
    lines = summarize(rows, thresh, args.checks, args.inputs)
    print("\n".join(lines))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
