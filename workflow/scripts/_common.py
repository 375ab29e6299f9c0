"""Shared start-up of the workflow's script adapters: package path, log file, threads."""
import sys
from pathlib import Path


def setup(snakemake, threads: int | None = None):
    """Make `patch2loc` importable from src/, send stdout/stderr to the rule's log, cap threads."""
    src = Path(snakemake.scriptdir).resolve().parents[1] / "src"
    sys.path.insert(0, str(src))
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        log = open(snakemake.log[0], "w", buffering=1)
        sys.stdout = sys.stderr = log
    if threads:
        import torch

        torch.set_num_threads(threads)
