"""patch2loc's challenge metrics against the challenges' own evaluation code, volume by volume.

    python tools/challenge_official.py --wmh WMHCHALLENGE:WMH_PYTHON --isles ISLES22:ISLES_PYTHON \\
        --brats BRATS_2023_METRICS:BRATS_PYTHON [--small 332 --tumour 40 --seed 0]

The three checkouts (hjkuijf/wmhchallenge, ezequieldlrosa/isles22, rachitsaluja/BraTS-2023-Metrics)
are not part of this repository; pass their paths, each with the Python of an environment holding
that code's dependencies at its published pins, so that it runs unpatched:

    python3.10 -m venv /tmp/brats && /tmp/brats/bin/pip install numpy==1.24.3 pandas==1.3.4 \\
        scipy==1.11.1 connected-components-3d==3.12.1 nibabel==5.1.0      # its requirements.txt
    python3.9 -m venv /tmp/isles && /tmp/isles/bin/pip install numpy==1.19.5 \\
        connected-components-3d==3.9.1 nibabel==3.2.1                      # its requirements.txt
    python3.11 -m venv /tmp/wmh && /tmp/wmh/bin/pip install numpy scipy SimpleITK   # its Dockerfile: unpinned

The cases (challenge_official_cases.py: small random volumes, edge cases, tumour-sized masks) are
written as NIfTI under --out; each official code reads the files (challenge_official_runner.py), and
`challenges.label_metrics` scores the same arrays with the spacing those files' headers hold. Per
challenge and metric the table counts the volumes compared, those equal (|a - b| <= 1e-6 max(1, |b|),
or both NaN), those where the official code fails and patch2loc gives the documented NaN
(docs/evaluation.md), and the largest difference; the command exits 1 if any volume differs.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from challenge_official_cases import write_cases  # noqa: E402  (a sibling script, not a package)

RUNNER = Path(__file__).resolve().parent / "challenge_official_runner.py"
TOLERANCE = 1e-6
CHALLENGE_FILES = {"wmh": "wmh.nii.gz", "isles22": "truth.nii.gz", "brats23": "brats21.nii.gz"}
OPTIONS = {"wmh": "wmh", "isles22": "isles", "brats23": "brats"}


def checkout_and_python(text: str) -> tuple[str, str]:
    """'CHECKOUT:PYTHON' -> (checkout, python); without ':PYTHON', this Python."""
    checkout, _, python = text.partition(":")
    return checkout, python or sys.executable


def official(cases_json: Path, out: Path, args) -> dict:
    """{case id: {challenge: values}} from each challenge's own code, in its own environment."""
    theirs: dict[str, dict] = {}
    for challenge, option in OPTIONS.items():
        checkout, python = checkout_and_python(getattr(args, option))
        target = out / f"official_{challenge}.json"
        command = [python, "-W", "ignore", str(RUNNER), challenge, checkout, str(cases_json), str(target)]
        subprocess.run(command, check=True)  # -W ignore: their pandas and numpy deprecation warnings
        for case, values in json.loads(target.read_text(encoding="utf-8")).items():
            theirs.setdefault(case, {})[challenge] = values
    return theirs


def ours(folder: Path) -> dict[str, dict[str, float]]:
    """patch2loc's metrics of one case, per challenge, as the workflow computes them (label_metrics)."""
    from patch2loc.evaluation.challenges import label_metrics

    pred_image = nib.load(str(folder / "pred.nii.gz"))
    pred = np.asarray(pred_image.dataobj) > 0
    spacing = tuple(float(z) for z in pred_image.header.get_zooms())  # float32 in the header, as theirs read it
    out = {}
    for challenge, name in CHALLENGE_FILES.items():
        labels = np.rint(np.asarray(nib.load(str(folder / name)).dataobj)).astype(np.int16)
        out[challenge] = label_metrics(challenge, pred, labels, spacing)
    return out


def _number(value) -> float | None:
    """An official value as a float (NaN, inf), or None where the official code failed."""
    if isinstance(value, dict):
        return None
    return float(value)


def compare(cases: list[dict], mine: dict, theirs: dict) -> pd.DataFrame:
    """One row per (case, challenge, metric): ours, theirs, and how they agree."""
    rows = []
    for case in cases:
        for challenge, official in theirs[case["id"]].items():
            if "fails" in official:  # BraTS' whole call failed (none should): one row that differs
                official = {"(the whole call)": official}
            for metric, value in official.items():
                a, b = float(mine[case["id"]][challenge].get(metric, 0.0)), _number(value)
                if b is None:
                    status = "official fails, ours NaN" if math.isnan(a) else "official fails, ours a value"
                elif math.isnan(a) and math.isnan(b):
                    status = "equal"
                else:
                    status = "equal" if abs(a - b) <= TOLERANCE * max(1.0, abs(b)) else "differs"
                diff = abs(a - b) if b is not None and math.isfinite(a) and math.isfinite(b) else 0.0
                rows.append(dict(case=case["id"], kind=case["kind"], challenge=challenge, metric=metric))
                rows[-1] |= dict(ours=a, official=value if b is None else b, status=status, abs_diff=diff)
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per challenge and metric: volumes, equal, official-fails-ours-NaN, differing, largest |diff|."""
    grouped = rows.groupby(["challenge", "metric"], sort=False)
    return grouped.agg(
        volumes=("case", "size"),
        tumour_sized=("kind", lambda k: int((k == "tumour").sum())),
        equal=("status", lambda s: int((s == "equal").sum())),
        official_fails_ours_nan=("status", lambda s: int((s == "official fails, ours NaN").sum())),
        differ=("status", lambda s: int(s.isin(["differs", "official fails, ours a value"]).sum())),
        max_abs_diff=("abs_diff", "max"),
    ).reset_index()


def markdown(table: pd.DataFrame) -> str:
    lines = [
        "| challenge | metric | volumes | tumour-sized | equal | official fails, ours NaN | differ | max abs diff |"
    ]
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in table.itertuples():
        lines.append(
            f"| {r.challenge} | `{r.metric}` | {r.volumes} | {r.tumour_sized} | {r.equal} | "
            f"{r.official_fails_ours_nan} | {r.differ} | {r.max_abs_diff:.2g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wmh", required=True, help="checkout of hjkuijf/wmhchallenge[:its python]")
    ap.add_argument("--isles", required=True, help="checkout of ezequieldlrosa/isles22[:its python]")
    ap.add_argument("--brats", required=True, help="checkout of rachitsaluja/BraTS-2023-Metrics[:its python]")
    ap.add_argument("--small", type=int, default=332, help="small random cases (the first four: edge cases)")
    ap.add_argument("--tumour", type=int, default=40, help="tumour-sized cases")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/challenge_official", help="cases, values and tables go here")
    args = ap.parse_args(argv)
    out = Path(args.out)
    started = time.perf_counter()
    cases = write_cases(out / "cases", args.small, args.tumour, args.seed)
    (out / "cases.json").write_text(json.dumps(cases, indent=1), encoding="utf-8")
    theirs = official(out / "cases.json", out, args)
    mine = {case["id"]: ours(Path(case["folder"])) for case in cases}
    rows = compare(cases, mine, theirs)
    rows.to_csv(out / "per_volume.csv", index=False)
    table = summary(rows)
    text = markdown(table)
    (out / "summary.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"{len(cases)} volumes per challenge ({args.tumour} tumour-sized), {time.perf_counter() - started:.0f} s")
    return 0 if table["differ"].sum() == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
