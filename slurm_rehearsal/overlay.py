"""Write the rehearsal's overlay profile: profiles/slurm with only site settings changed.

    python slurm_rehearsal/overlay.py profiles/slurm/config.yaml OUT_DIR/config.yaml

Changed, and nothing else: the three placeholders (account, CPU and GPU partitions) become the
one-node cluster's; conda is dropped (this machine has none: jobs use the environment Snakemake
runs in, as `make demo` does); the job status comes from squeue (no accounting database here)
and is first asked 5 s after a submission, not 40 s (the plugin's default suits big clusters; on
one node the demo's ~140 short jobs would mostly wait for it). Every changed key is printed.
"""

import sys
from pathlib import Path

import yaml

SITE = {"YOUR_ACCOUNT": "rehearsal", "YOUR_CPU_PARTITION": "cpu", "YOUR_GPU_PARTITION": "gpu"}


def fill(value):
    if isinstance(value, dict):
        return {k: fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v) for v in value]
    return SITE.get(value, value) if isinstance(value, str) else value


src, dest = map(Path, sys.argv[1:3])
profile = yaml.safe_load(src.read_text())
overlay = fill(profile)
for key in ("use-conda", "conda-frontend"):
    overlay.pop(key, None)
overlay["slurm-status-command"] = "squeue"
overlay["slurm-init-seconds-before-status-checks"] = 5
dest.parent.mkdir(parents=True, exist_ok=True)
dest.write_text(
    f"# Generated from {src} by {Path(__file__).name}; do not edit.\n" + yaml.safe_dump(overlay, sort_keys=False)
)
for key in sorted(set(profile) | set(overlay)):
    if profile.get(key) != overlay.get(key):
        print(f"overlay: {key}: {profile.get(key)!r} -> {overlay.get(key)!r}")
