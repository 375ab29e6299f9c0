"""What produced a result: package versions and the machine, saved beside every run."""

from __future__ import annotations

import platform
from importlib import metadata

from patch2loc import __version__

PACKAGES = (
    "patch2loc",
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
    out = {"python": platform.python_version()}
    for name in packages:
        if name == "patch2loc":  # the code that ran: a rule's env imports it from src/, uninstalled
            out[name] = __version__
            continue
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
