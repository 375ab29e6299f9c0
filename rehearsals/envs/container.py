"""The Dockerfile of the container route: Snakemake's own `--containerize` (every rule's conda env,
each created under /conda-envs/<hash> as `containerized:` in the Snakefile expects), with the CUDA
version the image's PyTorch envs are solved for, since no GPU driver is there when it is built.

    python -m rehearsals.envs.container [--check]     (make dockerfile; --check writes nothing, exit 1
                                                    if the Dockerfile is not what it would write)

Snakemake asks `conda info` first; where no conda exists (here) the env rehearsal's stand-in answers
(rehearsals/envs/conda.py). The DAG is the paper's, with the manual datasets absent (rules/raw.smk).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from shutil import which

from rehearsals.envs.spec import REPO

DOCKERFILE = REPO / "Dockerfile"
# conda-forge's pytorch-gpu needs the __cuda virtual package; a build host has no driver, so the
# image says which CUDA its envs are for (the GPU nodes' driver must run at least this major).
CUDA = (
    "# The envs' PyTorch is conda-forge's CUDA build, which conda only installs where a driver is seen:\n"
    "# the build says which CUDA (docker build --build-arg CONDA_OVERRIDE_CUDA=12.9).\n"
    "ARG CONDA_OVERRIDE_CUDA=12.9\n"
    "ENV CONDA_OVERRIDE_CUDA=${CONDA_OVERRIDE_CUDA}\n"
)


def generate(root: Path = REPO) -> str:
    """The Dockerfile for the workflow in `root` (a checkout or a copy of one)."""
    with tempfile.TemporaryDirectory(prefix="p2l-containerize-") as tmp:
        env = dict(os.environ)
        if which("conda") is None:
            conda = Path(tmp) / "conda"
            subprocess.run([sys.executable, "-m", "rehearsals.envs.conda", "install", str(conda)], check=True, cwd=REPO)
            env["PATH"] = f"{conda / 'bin'}{os.pathsep}{env['PATH']}"
        res = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "1", "--containerize", "--config", "max_subjects=2"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    if res.returncode != 0:
        raise SystemExit(f"snakemake --containerize failed:\n{res.stderr[-3000:]}")
    head, rest = res.stdout.split("\n", 1)
    if not head.startswith("FROM "):
        raise SystemExit(f"snakemake --containerize wrote no Dockerfile:\n{res.stdout[:500]}")
    return f"{head}\n{CUDA}{rest}"


def main(argv: list[str]) -> int:
    text = generate()
    current = DOCKERFILE.read_text(encoding="utf-8") if DOCKERFILE.exists() else ""
    if "--check" in argv:
        print("Dockerfile: " + ("current" if text == current else "out of date (make dockerfile)"))
        return 0 if text == current else 1
    DOCKERFILE.write_text(text, encoding="utf-8")
    print("written: Dockerfile")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
