"""Write the rehearsal's copy of profiles/slurm: the same files with the site's placeholders filled.

    python rehearsals/slurm/overlay.py profiles/slurm OUT_DIR ENVS_PREFIX

Changed, and nothing else: the placeholders (account; the CPU and GPU partitions' names, in
config.v8+.yaml and partitions.yaml) become the one-node cluster's; `conda-prefix` points at the
env rehearsal's environments (built by the stand-in conda, rehearsals/envs/: no conda here); the
first job status is asked 5 s after a submission, not 40 s (the plugin's default suits big
clusters; on one node the demo's short jobs would mostly wait for it). Every changed key is printed.
"""

import sys
from pathlib import Path

import yaml

SITE = {"YOUR_ACCOUNT": "rehearsal", "YOUR_CPU_PARTITION": "cpu", "YOUR_GPU_PARTITION": "gpu"}
PROFILE = "config.v8+.yaml"


def fill(value):
    if isinstance(value, dict):
        return {SITE.get(k, k): fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v) for v in value]
    return SITE.get(value, value) if isinstance(value, str) else value


def changes(old, new, where=""):
    if isinstance(old, dict) and isinstance(new, dict) and old.keys() == new.keys():
        return [line for k in old for line in changes(old[k], new[k], f"{where}{k}.")]
    return [] if old == new else [f"{where.rstrip('.')}: {old!r} -> {new!r}"]


def main(src: Path, dest: Path, envs: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in (PROFILE, "partitions.yaml"):
        original = yaml.safe_load((src / name).read_text(encoding="utf-8"))
        filled = fill(original)
        if name == PROFILE:
            filled["conda-prefix"] = str(envs.resolve())
            filled["slurm-init-seconds-before-status-checks"] = 5
        header = f"# Generated from {src / name} by {Path(__file__).name}; do not edit.\n"
        (dest / name).write_text(header + yaml.safe_dump(filled, sort_keys=False), encoding="utf-8")
        for key in sorted(set(original) | set(filled)):
            for line in changes(original.get(key), filled.get(key), f"{key}."):
                print(f"overlay {name}: {line}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
