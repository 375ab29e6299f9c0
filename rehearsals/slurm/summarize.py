"""What the rehearsal showed: where SLURM ran each job (sacct), GPU jobs side by side, the devices
SLURM gave them, and whether the cluster run's outputs equal the local run's. Exit 1 if a check fails.

    python rehearsals/slurm/summarize.py results/rehearsal-slurm results/demo_local results/demo_slurm
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

out, local, cluster = map(Path, sys.argv[1:4])
ok = True
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from rehearsals.envs.rules import load  # noqa: E402


def placement(sacct: Path, rules: dict) -> tuple[list[str], bool]:
    """A table of every job sacct knows, by rule: partition and GPUs; each GPU job (its rule asks for
    gpu > 0) must be on `gpu` with a GPU, every other on `cpu` without one, and no local rule there."""
    seen = defaultdict(lambda: defaultdict(int))
    for row in sacct.read_text().splitlines():
        job, partition, tres, state, comment = row.split("|", 4)
        rule = m.group(1) if (m := re.match(r"rule_(.+?)(?:_wildcards_|$)", comment)) else f"? ({comment})"
        gpus = int(g.group(1)) if (g := re.search(r"gres/gpu=(\d+)", tres)) else 0
        seen[rule][(partition, gpus, state)] += 1
    held, lines = True, ["| rule | asks for | partition, GPUs allocated, state: jobs |", "| --- | --- | --- |"]
    for rule, rows in sorted(seen.items()):
        want = ("gpu", 1) if rules.get(rule, {}).get("resources", {}).get("gpu", 0) > 0 else ("cpu", 0)
        right = rule in rules and not rules[rule]["local"] and all((p, g) == want for p, g, _ in rows)
        held &= right
        cells = "; ".join(f"{p}, {g}, {st}: {n}" for (p, g, st), n in sorted(rows.items()))
        lines.append(f"| {rule}{'' if right else ' **WRONG**'} | {'gpu=1' if want[1] else 'no GPU'} | {cells} |")
    held &= bool(seen)
    local = sorted(r for r, v in rules.items() if v["local"])
    lines.append(f"local rules (never submitted; none may appear above): {', '.join(local)}")
    return lines, held


# 0. Placement: every job SLURM ran, from sacct (its partition, the GPUs it was allocated).
config = str((out / "demo_slurm.yaml").resolve())
table, placed = placement(out / "sacct.txt", load(REPO, [config])[config])
(out / "placement.md").write_text("\n".join(table) + "\n")
print("\n".join(table))
print(f"placement from sacct: {'every GPU job on gpu with a GPU, every other on cpu' if placed else 'WRONG'}")
ok &= placed

# 1. GPU jobs running at the same time (squeue.log: "HH:MM:SS id:partition:comment ...").
best, best_line, gpu_rules = 0, "", set()
for line in (out / "squeue.log").read_text().splitlines():
    gpu_jobs = [job for job in line.split()[1:] if job.split(":")[1:2] == ["gpu"]]
    # The executor's comment reads "rule_{name}_wildcards_{values}" (or "rule_{name}").
    gpu_rules.update(
        m.group(1) for job in gpu_jobs if (m := re.match(r"rule_(.+?)(?:_wildcards|$)", job.split(":", 2)[-1]))
    )
    if len(gpu_jobs) > best:
        best, best_line = len(gpu_jobs), line
print(f"most GPU jobs running at once: {best}" + (f"  ({best_line})" if best else ""))
ok &= best >= 2
print(f"jobs seen on the gpu partition (by the comment Snakemake gives them): {', '.join(sorted(gpu_rules)) or 'none'}")

# 2. CUDA_VISIBLE_DEVICES as the GPU jobs saw it (first line of each log).
seen = {}
for log in sorted((cluster / "logs").glob("**/*.log")):
    m = re.search(r"CUDA_VISIBLE_DEVICES=(\S+)", log.read_text()[:300])
    if m and m.group(1) != "(unset)":
        seen[str(log.relative_to(cluster))] = m.group(1)
print(f"GPU job logs with CUDA_VISIBLE_DEVICES set by SLURM: {len(seen)} (values {sorted(set(seen.values()))})")

# 3. The training cancelled with scancel: the retry's log, and its weights against the local run's.
cancel = out / "scancel.txt"
print(cancel.read_text().strip() if cancel.exists() else "no training was cancelled (scancel.txt missing)")
train_log = (cluster / "logs" / "train" / "T1_fold0.log").read_text()
resumed = re.search(r"resuming from step \d+", train_log)
print(f"retry of train_model T1 fold0: {resumed.group(0) if resumed else 'did NOT resume'}")
ok &= bool(resumed) and cancel.exists()
try:
    import torch

    def weights(path):
        return torch.load(path, map_location="cpu", weights_only=True)["model"]

    for name in ("last.pt", "best.pt"):
        a, b = weights(cluster / "models" / "T1" / "fold0" / name), weights(local / "models" / "T1" / "fold0" / name)
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        print(
            f"T1 fold0 {name}: resumed cluster training vs uninterrupted local: "
            + ("identical weights" if same else "weights DIFFER")
        )
        ok &= same
except FileNotFoundError as err:
    print(f"weights: {err}")
    ok = False

# 4. Every preprocessed and normalised volume, the landmarks and the models: cluster vs local.
for pattern in ("preprocessed/**/*.nii.gz", "normalized/**/*.nii.gz"):
    names = sorted(str(p.relative_to(local)) for p in local.glob(pattern))
    differ = [
        n
        for n in names
        if not (cluster / n).exists()
        or not np.array_equal(np.asarray(nib.load(local / n).dataobj), np.asarray(nib.load(cluster / n).dataobj))
    ]
    print(
        f"{pattern}: {len(names) - len(differ)} of {len(names)} identical"
        + (f", e.g. {differ[:2]} differ" if differ else "")
    )
    ok &= bool(names) and not differ
for path in sorted(local.glob("landmarks/*.npy")):
    same = np.array_equal(np.load(path), np.load(cluster / path.relative_to(local)))
    print(f"{path.relative_to(local)}: {'identical' if same else 'DIFFERS'}")
    ok &= same
# Patch2Loc's models/{modality}/ and the other trained methods' models/{method}/{modality}/.
for path in sorted(local.glob("models/**/fold*/best.pt")):
    a, b = weights(path), weights(cluster / path.relative_to(local))
    same = all(torch.equal(a[k], b[k]) for k in a)
    print(f"{path.relative_to(local)}: {'identical weights' if same else 'weights DIFFER'}")
    ok &= same

# 5. Tables: cluster run against local run.
for name in ("table1.csv", "table2.csv", "per_volume_metrics.csv"):
    a, b = local / "tables" / name, cluster / "tables" / name
    if not (a.exists() and b.exists()):
        print(f"{name}: missing ({a if not a.exists() else b})")
        ok = False
        continue
    da, db = pd.read_csv(a, dtype=str, keep_default_na=False), pd.read_csv(b, dtype=str, keep_default_na=False)
    if a.read_bytes() == b.read_bytes():
        print(f"{name}: identical ({len(da)} rows)")
        continue
    ok = False
    diff = (da != db) if da.shape == db.shape else None
    print(f"{name}: DIFFERS" + ("" if diff is None else f" in {int(diff.values.sum())} cells"))
sys.exit(0 if ok else 1)
