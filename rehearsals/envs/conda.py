"""A stand-in `conda` for the env rehearsal, so that Snakemake's own `--sdm conda` path runs here,
where no conda exists: Snakemake checks the version and channel priority, asks `conda info`,
creates each env with `conda env create --file F --prefix P` and runs each job after
`source <root>/bin/activate P`. Env creation builds a venv from the file (rehearsals/envs/build.py);
activation puts that env first on PATH. Anything else Snakemake might ask stops with a message.

    python -m rehearsals.envs.conda install ROOT [ENVS]   # writes ROOT/bin/conda and ROOT/bin/activate
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rehearsals.envs.build import build, refresh_guards
from rehearsals.envs.spec import REPO

VERSION = "24.11.3"  # what `conda --version` answers: Snakemake 9 asks for 24.7.1 or later
WRAPPER = '#!/bin/sh\nP2L_CONDA_ROOT="{root}" PYTHONPATH="{repo}" exec "{python}" -m rehearsals.envs.conda "$@"\n'
ACTIVATE = """# Sourced by Snakemake before each job: the env rehearsal's stand-in for conda's activate.
export PATH="$1/bin:$PATH" VIRTUAL_ENV="$1" CONDA_PREFIX="$1"
unset PYTHONHOME PYTHONPATH
"""


def install(root: Path) -> None:
    (root / "bin").mkdir(parents=True, exist_ok=True)
    conda = root / "bin" / "conda"
    conda.write_text(WRAPPER.format(root=root.resolve(), repo=REPO, python=sys.executable), encoding="utf-8")
    conda.chmod(0o755)
    (root / "bin" / "activate").write_text(ACTIVATE, encoding="utf-8")


def info() -> dict:
    root = os.environ["P2L_CONDA_ROOT"]
    return {"conda_prefix": root, "root_prefix": root, "platform": "linux-64", "conda_version": VERSION}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print(f"conda {VERSION}")
    elif argv[:2] == ["info", "--json"]:
        print(json.dumps(info()))
    elif argv[:3] == ["config", "--get", "channel_priority"]:
        print(json.dumps({"get": {"channel_priority": "strict"}, "success": True}))
    elif argv[:1] == ["install"]:  # and the guard of the envs already built under ARGV[2], if given
        install(Path(argv[1]))
        for prefix in refresh_guards(Path(argv[2])) if len(argv) > 2 and Path(argv[2]).is_dir() else []:
            print(f"guard refreshed in {prefix}")
    elif argv[:2] == ["env", "create"]:
        parser = argparse.ArgumentParser(prog="conda env create")
        parser.add_argument("--file", required=True)
        parser.add_argument("--prefix", required=True)
        args, _ = parser.parse_known_args(argv[2:])
        build(Path(args.file), Path(args.prefix))
    elif argv[:1] == ["clean"]:
        pass
    else:
        print(f"env rehearsal's conda: `conda {' '.join(argv)}` is not rehearsed here", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
