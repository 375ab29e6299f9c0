"""A method's settings have one set of bounds. The rules a checkpoint's config is held to
(the `RULES` of the method's `bounds` module, ranges.py's format) are also what the workflow holds
the method's config block to at start-up (patch2loc.training.blockbounds, right after the schema):
config/schema.yaml names those keys without bounds of its own, and the start-up verdict on the
values at and beyond each bound is the rules' (`check_block`). The one difference the schema cannot
say is checked by the rules alone: test steps below `timesteps` (tested in test_bundle_hostile_settings)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from patch2loc.checks.ranges import MAX_PATCH, OneOf, check_block
from patch2loc.errors import InputError
from patch2loc.training.blockbounds import block_rules, check_method_blocks
from patch2loc.registry import REGISTRY, implementation
from patch2loc.run.configfiles import load as load_configfiles

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
# The methods whose networks are rebuilt from their checkpoints' config (Patch2Loc's is fixed: its
# checkpoints hold only a patch size, bounded by checkpoint.py and the schema alike, below).
REBUILT = [m for m in REGISTRY if m.trains and hasattr(implementation(m.name), "RANGES")]
NOTES = {"description", "default"}


def _block(name: str) -> dict:
    block = SCHEMA["properties"][name]
    if "$ref" in block:
        block = SCHEMA["definitions"][block["$ref"].rsplit("/", 1)[1]]
    return block["properties"]


def test_every_method_rebuilt_from_settings_has_its_bounds():
    assert {m.name for m in REBUILT} == {
        *("DAE", "DDPM", "pDDPM", "cDDPM", "AE", "VAE"),
        *("RA", "RA-noLPIPS", "PHANES", "PHANES-noPretrained", "FAE", "FAE-random"),
    }


@pytest.mark.parametrize("method", REBUILT, ids=lambda m: m.name)
def test_the_block_is_held_to_every_rule_a_checkpoint_is_and_the_schema_says_no_bound_of_its_own(method):
    rules, props = block_rules(method), _block(method.config)
    assert set(implementation(method.name).RANGES) <= set(rules)
    for key in rules:
        said = {k: v for k, v in props[key].items() if k not in NOTES}
        assert not said, f"{method.config}.{key}: the schema says {said}; its bounds are the method's RULES"


def _candidates(rule) -> list:
    """Values at and just beyond each bound, and of another type."""
    if isinstance(rule, OneOf):
        return [*rule, "other", 3, -1]
    kind, low, high, length, *null = rule
    step = 1 if kind is int else 1e-6
    values = [low, high, low - step, high + step, "1", True, [low]]
    if length is not None:
        values = [[v] * length[0] for v in values[:4]] + [[low] * length[1], [low] * (length[1] + 1), [], low]
    return values + [None]


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory) -> str:
    """config/schema.yaml written as JSON: the same schema for snakemake's `validate`, which reads JSON
    before trying YAML, without its second of YAML parsing on each of the few hundred calls below."""
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return str(path)


def _start_up_accepts(cfg: dict, block: str, key: str, value, schema: str) -> bool:
    """What rules/common.smk says: the schema through snakemake's `validate`, then the blocks' rules."""
    from snakemake.utils import validate

    changed = copy.deepcopy(cfg)
    changed[block][key] = value
    try:
        validate(changed, schema)
        check_method_blocks(changed)
    except Exception:  # snakemake's WorkflowError or InputError, naming the key
        return False
    return True


def _rules_accept(key: str, rule, value) -> bool:
    try:
        check_block({key: value}, {key: rule}, "block", "config")
    except InputError:
        return False
    return True


@pytest.mark.parametrize("method", REBUILT, ids=lambda m: m.name)
def test_start_up_and_the_rules_agree_on_each_bound(method, schema_file):
    cfg = load_configfiles([REPO / "config" / "demo.yaml"])
    assert method.config in cfg
    differ = []
    for key, rule in block_rules(method).items():
        if key == "kl_weight" and method.name == "AE":
            continue  # the schema refuses an AE's kl_weight whatever its value (the AE has no KL term)
        for value in _candidates(rule):
            start, rules = (
                _start_up_accepts(cfg, method.config, key, value, schema_file),
                _rules_accept(key, rule, value),
            )
            if start != rules:
                differ.append(f"{key}={value!r}: start-up {start}, rules {rules}")
    assert not differ, differ


def test_the_patch2loc_patch_size_ends_where_a_checkpoint_may_end():
    assert _block("patch2loc")["patch_size"]["maximum"] == MAX_PATCH
