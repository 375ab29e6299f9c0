"""What produced a result: package versions and the machine, saved beside every run."""

from __future__ import annotations

import ast
import importlib.util
import platform
from importlib import metadata
from pathlib import Path

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
# Their `__version__` names the build (+cu130, +cpu), which their metadata leaves out; read it the same way
# for versions.txt and for a checkpoint, so the two records of one run agree.
BUILT = ("torch", "torchvision")


def package_versions(packages=PACKAGES) -> dict[str, str]:
    # the code that ran: a rule's env imports it from src/, uninstalled, so not from its metadata
    out = {"python": platform.python_version(), "patch2loc": __version__}
    for name in packages:
        out[name] = built_version(name) if name in BUILT else release(name)
    return out


def release(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


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

    return {
        "patch2loc": __version__,
        "torch": built_version("torch"),
        "torchvision": built_version("torchvision"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "platform": sys.platform,
    }


def built_version(package: str) -> str:
    """`package.__version__` (its build tag, e.g. +cu130, included) read from the version.py its build
    writes, not imported: importing torchvision costs about 3 CPU s (its ops import torch._dynamo), which
    a training that does not use it would pay for one string."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return "not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        body = ast.parse(path.read_text(encoding="utf-8")).body
    except (OSError, SyntaxError, ValueError):
        body = []
    for node in body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return release(package)  # a build without that file: its release, without a tag
