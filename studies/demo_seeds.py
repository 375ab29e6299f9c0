"""Seed and kernel study of a demo's Patch2Loc evidence: does every demo check hold for every seed,
both training precisions and other CPU kernels?

    python studies/demo_seeds.py results/demo --configfile config/demo.yaml \
        --seeds 1 2 3 4 5 --amp none bf16 --kernels default --out results/seed_study/demo
    python studies/demo_seeds.py results/demo --configfile config/demo.yaml \
        --seeds 3141 --kernels avx2 threads2 --out results/seed_study/demo
    python studies/demo_seeds.py results/demo --variants 3141:none:default 3141:bf16:default \
        3141:none:avx2 --out results/seed_study/demo      # one table of the variants run above
    python studies/demo_seeds.py results/demo_long --configfile config/demo.yaml \
        config/demo_long.yaml --seeds 3141 1 2 --checks long --reuse-run --out results/seed_study/long
    python studies/demo_seeds.py results/demo_long --configfile config/demo.yaml \
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


from seed_grading import DATASETS, input_sets, load_config, run_task, thresh_auprcs

KERNELS = {
    "default": {},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
    # What an AVX512-BF16 AMD EPYC (Zen 4) gets: oneDNN's avx512_core_bf16 kernels (no AMX), MKL's AVX2 path.
    "zen4": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "threads2": {},
}


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
    from patch2loc.run.blocks import filled

    train = {**config["patch2loc"], "seed": seed, "amp": amp}
    if kernel == "threads2":
        train["threads"] = 2
    task_config = {**config, "patch2loc": train}
    folder = out / f"seed{seed}_{amp}_{kernel}" / modality
    result = folder / "result.json"
    if result.exists() and json.loads(result.read_text(encoding="utf-8"))["settings"] == train:
        return json.loads(result.read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    run_block = filled(config)["patch2loc"]  # the run's seed and precision, its code defaults included
    if reuse and (seed, amp, kernel) == (run_block["seed"], run_block["amp"], "default"):
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
