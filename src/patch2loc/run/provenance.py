"""What produced a result: package versions and the machine, saved beside every run."""

from __future__ import annotations

import platform
from importlib import metadata

from patch2loc import __version__

PACKAGES = (  # besides patch2loc itself, whose release is its own __version__
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "nibabel",
    "SimpleITK",
    "intensity-normalization",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "nilearn",
    "snakemake",
)


def package_versions(packages=PACKAGES) -> dict[str, str]:
    # the code that ran: a rule's env imports it from src/, uninstalled, so not from its metadata
    out = {"python": platform.python_version(), "patch2loc": __version__}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def versions_text() -> str:
    lines = [f"{k}: {v}" for k, v in package_versions().items()]
    lines.append(f"platform: {platform.platform()}")
    try:
        import torch

        lines.append(f"cuda: {torch.version.cuda} (available: {torch.cuda.is_available()})")
    except ImportError:
        pass
    return "\n".join(lines) + "\n"


def checkpoint_versions() -> dict:
    """What a checkpoint records of the code that trained it (training/harness.py)."""
    import sys

    import numpy as np
    import torch
    import torchvision

    return {
        "patch2loc": __version__,
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "platform": sys.platform,
    }
