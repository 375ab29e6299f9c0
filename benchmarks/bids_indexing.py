"""pybids vs ancpbids: time to index a BIDS tree and find every T2w scan (docs/bids.md).

Writes a raw dataset of N participants x 2 sessions x (T1w, T2w) with JSON sidecars (the images
are empty placeholders: neither library reads voxels when indexing), then, each in a fresh
process, indexes it and queries the T2w scans. Prints seconds and the ratio, side by side.

    PYTHONPATH=src python benchmarks/bids_indexing.py --participants 200 --work /tmp/bids_index
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PYBIDS = """
import time, bids
t = time.perf_counter()
layout = bids.BIDSLayout({root!r}, validate=False)
found = layout.get(suffix="T2w", extension=[".nii", ".nii.gz"], datatype="anat")
print(len(found), time.perf_counter() - t)
"""
PYBIDS_NO_METADATA = """
import time, bids
from bids.layout import BIDSLayoutIndexer
t = time.perf_counter()
layout = bids.BIDSLayout({root!r}, validate=False, indexer=BIDSLayoutIndexer(index_metadata=False))
found = layout.get(suffix="T2w", extension=[".nii", ".nii.gz"], datatype="anat")
print(len(found), time.perf_counter() - t)
"""
ANCPBIDS = """
import time, ancpbids
t = time.perf_counter()
ds = ancpbids.load_dataset({root!r})
found = ds.query(suffix="T2w", extension=".nii.gz", scope="raw")  # datatype="anat" finds none in 0.4.10
print(len(found), time.perf_counter() - t)
"""


def write_tree(root: Path, participants: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "bench", "BIDSVersion": "1.10.0"}))
    for p in range(1, participants + 1):
        for s in (1, 2):
            anat = root / f"sub-{p:03d}" / f"ses-{s}" / "anat"
            anat.mkdir(parents=True, exist_ok=True)
            for suffix in ("T1w", "T2w"):
                stem = anat / f"sub-{p:03d}_ses-{s}_{suffix}"
                Path(f"{stem}.nii.gz").write_bytes(b"")
                Path(f"{stem}.json").write_text("{}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=200)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    root = Path(args.work) / f"raw{args.participants}"
    if not root.exists():
        write_tree(root, args.participants)
    results = {}
    for name, code in (
        ("pybids", PYBIDS),
        ("pybids, no metadata index (what patch2loc bids uses)", PYBIDS_NO_METADATA),
        ("ancpbids", ANCPBIDS),
    ):
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code.format(root=str(root))], capture_output=True, text=True)
            if "ModuleNotFoundError" in proc.stderr:
                break
            proc.check_returncode()
            out = proc.stdout.split()
            runs.append((int(out[0]), float(out[1]), time.perf_counter() - start))
        if not runs:
            print(f"{name}: not installed here ({proc.stderr.strip().splitlines()[-1]})")
            continue
        results[name] = min(runs, key=lambda r: r[1])
        n, index_s, process_s = results[name]
        print(
            f"{name}: {n} T2w scans found; index + query {index_s:.2f} s (best of {args.repeats}); "
            f"with import and interpreter start {process_s:.2f} s"
        )
    for name in list(results)[:2] if "ancpbids" in results else ():
        print(f"ratio {name} / ancpbids (index + query): {results[name][1] / results['ancpbids'][1]:.2f}")


if __name__ == "__main__":
    main()
