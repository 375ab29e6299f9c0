"""Time `patch2loc bids` on the demo's BIDS set with a real bundle (README, docs/bids.md).

Writes the demo BIDS set (patch2loc.bids.demo: 2 participants, 3 sessions, T1w + T2w at the
demo's 2 mm) unless it exists, then times, each as its own `patch2loc` process: the participant
level (every scan of the bundle's modality, brain masks from derivatives/masks, the real chain:
registration, N4, Nyul, scoring), the same call again (every scan skipped), and the group level
with derivatives/lesions. Prints the seconds and the machine.

    PYTHONPATH=src python benchmarks/bids_demo.py --model results/demo/bundles/T2.zip --work /tmp/bids_demo
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "patch2loc.cli", *argv], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a bundle from patch2loc export (the demo's bundles/T2.zip)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    from patch2loc.bids.demo import write_demo_bids

    raw = Path(args.work) / "raw"
    if not raw.exists():
        write_demo_bids(raw)
    out = raw / "derivatives" / "patch2loc"
    shutil.rmtree(out, ignore_errors=True)
    participant = [
        "bids",
        str(raw),
        str(out),
        "participant",
        "--model",
        args.model,
        "--mask-derivatives",
        str(raw / "derivatives" / "masks"),
        "--device",
        args.device,
        "--quiet",
    ]
    first = timed(participant)
    again = timed(participant)
    group = timed(
        ["bids", str(raw), str(out), "group", "--seg-derivatives", str(raw / "derivatives" / "lesions"), "--quiet"]
    )
    scans = len(list(out.rglob("*_space-native_desc-anomaly_T?w.nii.gz")))
    print(
        f"participant: {first[0]:.1f} s wall ({first[1]:.1f} s CPU) for {scans} scans; rerun (all skipped): "
        f"{again[0]:.1f} s ({again[1]:.1f} s CPU); group: {group[0]:.1f} s ({group[1]:.1f} s CPU)"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}; {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


if __name__ == "__main__":
    main()
