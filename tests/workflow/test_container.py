"""The container route (docs/cluster.md, "Containers"): the Dockerfile in the repository is Snakemake's
`--containerize` of the current env files, the Snakefile names the image its jobs run in under
`--sdm conda apptainer`, and the profile lets those jobs see the GPUs and the data and results
folders. The image itself cannot be built here (no docker, no apptainer)."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml
from rehearsals.envs.spec import ENVS, REPO, env_files

DOCKERFILE = REPO / "Dockerfile"


def _embedded(text: str) -> dict[str, str]:
    """source env file -> its text as the Dockerfile quotes it (Snakemake comments each env in)."""
    out = {}
    for block in text.split("# Conda environment:\n")[1:]:
        source = re.search(r"^#   source: (\S+)$", block, re.M).group(1)
        body = re.search(r"^#   prefix: \S+\n((?:#   .*\n|#\n)*)", block, re.M).group(1)
        out[source] = "".join(line[4:] + "\n" if line.startswith("#   ") else "\n" for line in body.splitlines())
    return out


def test_the_dockerfile_quotes_every_env_file_as_it_is_now():
    """An env file changed without `make dockerfile` fails here (its quoted text differs)."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    quoted = _embedded(text)
    files = {str(p.relative_to(REPO)) for p in env_files() if p.parent == ENVS}
    assert set(quoted) == files, f"envs in the Dockerfile {sorted(quoted)}, env files {sorted(files)}"
    stale = [s for s, body in quoted.items() if body != (REPO / s).read_text(encoding="utf-8")]
    assert not stale, f"the Dockerfile holds an older copy of {stale}: run make dockerfile"
    for source in files:
        assert re.search(rf"^COPY {re.escape(source)} /conda-envs/\w+/environment.yaml$", text, re.M), source
    assert "ARG CONDA_OVERRIDE_CUDA=" in text  # the CUDA build solves without a driver at build time


def test_the_snakefile_names_the_image_of_its_conda_envs():
    snakefile = (REPO / "Snakefile").read_text(encoding="utf-8")
    assert re.search(r"^containerized: config\.get\(\"container\", \"[^\"]+\"\)$", snakefile, re.M)
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text(encoding="utf-8"))
    assert "container" in schema["properties"]


def test_the_profile_lets_container_jobs_see_the_gpus_the_data_and_the_results():
    profile = yaml.safe_load((REPO / "profiles" / "default" / "config.v8+.yaml").read_text(encoding="utf-8"))
    args = shlex.split(profile["apptainer-args"])
    binds = {b.split(":")[0] for i, a in enumerate(args[:-1]) if a in ("--bind", "-B") for b in args[i + 1].split(",")}
    assert {"data", "results"} <= binds and "--nv" in args, args


@pytest.mark.slow  # Snakemake's --containerize over the paper DAG (a minute or two)
def test_the_dockerfile_is_what_snakemake_containerize_writes(tmp_path):
    from rehearsals.envs.container import generate
    from tests.helpers.workflow import copy_workflow

    assert generate(copy_workflow(tmp_path)) == DOCKERFILE.read_text(encoding="utf-8"), "run make dockerfile"
