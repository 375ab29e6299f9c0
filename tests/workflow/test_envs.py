"""Every rule's conda env provides what its script needs, and every pin says what ran (a static check:
no conda here; tests/helpers/env_check.py). The env rehearsal (make rehearse-envs) runs the jobs in
envs built from these files; this check covers every rule of the paper DAG, rehearsed or not.

test_envs_cases.py breaks a copy of the workflow in each way the check must catch."""

from __future__ import annotations

import pytest
from tests.helpers.env_check import REPO, problems, shared_parse
from tests.helpers.env_imports import script_needs


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    return shared_parse(tmp_path_factory)


def test_the_workflow_passes_the_env_check(parsed):
    workdir, rules = parsed
    found = problems(workdir, rules)
    assert not found, "\n".join(found)


def test_every_rule_is_seen_loop_made_ones_included(parsed):
    _, rules = parsed
    paper = rules["config/config.yaml"]
    assert {"train_ddpm", "pretrain_cddpm", "export_bundle_VAE", "skull_strip_hdbet", "download_wmh"} <= set(paper)
    assert "synthesize_demo" in rules["config/demo.yaml"]
    assert paper["train_model"]["conda"] == "envs/torch.yaml"
    assert rules[next(c for c in rules if "cpu" in c)]["train_model"]["conda"] == "envs/cpu/torch.yaml"


def test_required_and_optional_imports_are_told_apart(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "try:\n    import torch\nexcept ImportError:\n    torch = None\n"  # optional: carries on without
        "try:\n    import nilearn\nexcept ImportError as e:\n    raise SystemExit('needs nilearn') from e\n"
        "try:\n    from intensity_normalization.adapters import X\nexcept ImportError:\n    import intensity_normalization\n"
        "import importlib\nimportlib.import_module('monai')\nimportlib.util.find_spec('nibabel')\n"
        "import pandas as pd\npd.read_excel('a.xls', engine='calamine')\nCMD = 'hd-bet -i {x}'\n"
        "def f(name):\n    return importlib.import_module(name)\n",
        encoding="utf-8",
    )
    needs = script_needs(script, REPO / "src")
    assert needs.modules == {"nilearn", "intensity_normalization", "monai", "nibabel", "pandas"}
    assert needs.engines == {"calamine"} and "hd-bet" in needs.words
    assert needs.dynamic == {"s.py:f"}


def test_the_env_files_are_what_make_pins_writes():
    """The bounds, the CPU variants (envs/cpu/) and pyproject.toml's pins are written by `make pins`
    from envs/tested.yaml: none was edited by hand since (`make pins-check` says the same)."""
    import yaml
    from rehearsals.envs.pins import TESTED, planned

    stale = [
        str(p)
        for p, text in planned(yaml.safe_load(TESTED.read_text(encoding="utf-8"))).items()
        if p.read_text() != text
    ]
    assert not stale, f"not what `make pins` writes: {stale}"
    assert "pytorch-cpu" in (REPO / "envs" / "cpu" / "torch.yaml").read_text()
