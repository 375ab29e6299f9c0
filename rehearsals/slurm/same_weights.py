"""Compare the weights of a checkpoint with others: identical tensors, or the largest difference.

    python rehearsals/slurm/same_weights.py RESUMED.pt OTHER.pt [OTHER.pt ...]    (exit 1 if any differs)
"""
import sys

import torch


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


ref = weights(sys.argv[1])
ok = True
for other_path in sys.argv[2:]:
    other = weights(other_path)
    same = ref.keys() == other.keys() and all(torch.equal(ref[k], other[k]) for k in ref)
    worst = 0.0 if same else max(float((ref[k].double() - other[k].double()).abs().max()) for k in ref if k in other)
    print(f"{sys.argv[1]} vs {other_path}: " + ("identical weights" if same else f"DIFFER (max |diff| {worst:.3g})"))
    ok &= same
sys.exit(0 if ok else 1)
