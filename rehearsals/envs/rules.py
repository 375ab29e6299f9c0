"""Every rule of the workflow as Snakemake itself parses it (rules made in loops included), as JSON.

    python -m rehearsals.envs.rules WORKDIR CONFIG [CONFIG ...]  ->  {config: {rule: {...}}}

Each config is parsed on its own (a rule may exist under one config only, e.g. the demo's
synthesis or a method's training; CONFIG may be `a.yaml+b.yaml`, b over a). Per rule: `conda` and
`script` (paths relative to WORKDIR, or null), the resources and params that are plain values
(callables are left out), and whether it is a local rule. Run in a child process: Snakemake
changes the working directory and keeps global state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLAIN = (str, int, float, bool, type(None))


def _relative(rule, value, workdir: Path):
    if not value:
        return None
    return str((Path(rule.basedir) / str(value)).resolve().relative_to(workdir.resolve()))


def rules_of(workdir: Path, configfile: str) -> dict:
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DeploymentSettings,
        OutputSettings,
        ResourceSettings,
        StorageSettings,
        WorkflowSettings,
    )

    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[workdir / c for c in str(configfile).split("+")]),
            storage_settings=StorageSettings(),
            workflow_settings=WorkflowSettings(),
            deployment_settings=DeploymentSettings(),
            snakefile=workdir / "Snakefile",
            workdir=workdir,
        )._workflow
        out = {}
        for rule in workflow.rules:
            params = dict(rule.params.items()) if hasattr(rule.params, "items") else {}
            out[rule.name] = {
                "conda": _relative(rule, rule.conda_env, workdir),
                "script": _relative(rule, rule.script, workdir),
                "resources": {k: v for k, v in rule.resources.items() if isinstance(v, PLAIN)},
                "params": {k: v for k, v in params.items() if _plain(v)},
                "local": rule.name in workflow._localrules,  # run in the Snakemake process under any executor
            }
        return out


def _plain(value) -> bool:
    """A value JSON carries as it is: a plain one, or a config block (a dict) of them."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return isinstance(value, PLAIN)


def load(workdir: Path, configs) -> dict[str, dict]:
    """config -> rule -> {conda, script, resources, params, local}: this module run in a child."""
    res = subprocess.run(
        [sys.executable, "-m", "rehearsals.envs.rules", str(workdir), *configs],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
    )
    if res.returncode != 0:
        raise RuntimeError(f"Snakemake could not parse the workflow in {workdir}:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout)


if __name__ == "__main__":
    workdir = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(workdir / "src"))
    print(json.dumps({c: rules_of(workdir, c) for c in sys.argv[2:]}))
