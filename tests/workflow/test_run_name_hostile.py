"""run_name is one plain folder name; "." or ".."
is refused by the schema and a dry run plans nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from patch2loc.run.configfiles import load as load_configfiles

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name,ok", [("..", False), (".", False), ("a.b", True), ("demo_2", True)])
def test_run_name_must_be_one_plain_folder_name(name, ok):
    from snakemake.utils import validate

    cfg = {**load_configfiles([REPO / "config" / "demo.yaml"]), "run_name": name}
    if ok:
        validate(cfg, str(REPO / "config" / "schema.yaml"))  # what rules/common.smk calls
    else:
        with pytest.raises(Exception, match="run_name"):
            validate(cfg, str(REPO / "config" / "schema.yaml"))


@pytest.mark.slow  # Snakemake in a child process
def test_a_dry_run_with_run_name_dotdot_plans_nothing(tmp_path):
    from tests.helpers.workflow import copy_workflow, snakemake

    workdir = copy_workflow(tmp_path)
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "--config", "run_name=..")
    assert res.returncode != 0 and "run_name" in res.stderr + res.stdout
    assert "Job stats" not in res.stdout
