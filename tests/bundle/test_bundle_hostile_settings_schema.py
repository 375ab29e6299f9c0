"""A method's settings have one set of bounds. The rules a checkpoint's config is held to
(the method module's `RANGES`, ranges.py's format) are the bounds config/schema.yaml gives the
workflow's block of that method: the same properties (`ranges.json_schema`), and the same verdict
on the values at and beyond each bound (the schema through snakemake's `validate`, as
rules/common.smk calls it; the rules through `check_block`). The one difference the schema cannot
say is checked by the rules alone: test steps below `timesteps` (tested in test_bundle_hostile_settings)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from patch2loc.checks.ranges import MAX_PATCH, OneOf, check_block, json_schema
from patch2loc.errors import InputError
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
    assert {m.name for m in REBUILT} == {"DAE", "DDPM", "pDDPM", "cDDPM", "AE", "VAE"}


@pytest.mark.parametrize("method", REBUILT, ids=lambda m: m.name)
def test_the_schema_says_what_the_rules_say(method):
    props = _block(method.config)
    for key, rule in implementation(method.name).RANGES.items():
        said = {k: v for k, v in props[key].items() if k not in NOTES}
        assert said == json_schema(rule), f"{method.config}.{key}: schema {said}, rules {json_schema(rule)}"


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


def _schema_accepts(cfg: dict, block: str, key: str, value) -> bool:
    from snakemake.utils import validate

    changed = copy.deepcopy(cfg)
    changed[block][key] = value
    try:
        validate(changed, str(REPO / "config" / "schema.yaml"))
    except Exception:  # snakemake's WorkflowError naming the key
        return False
    return True


def _rules_accept(key: str, rule, value) -> bool:
    try:
        check_block({key: value}, {key: rule}, "block", "config")
    except InputError:
        return False
    return True


@pytest.mark.parametrize("method", REBUILT, ids=lambda m: m.name)
def test_the_schema_and_the_rules_agree_on_each_bound(method):
    cfg = load_configfiles([REPO / "config" / "demo.yaml"])
    assert method.config in cfg
    differ = []
    for key, rule in implementation(method.name).RANGES.items():
        for value in _candidates(rule):
            schema, rules = _schema_accepts(cfg, method.config, key, value), _rules_accept(key, rule, value)
            if schema != rules:
                differ.append(f"{key}={value!r}: schema {schema}, rules {rules}")
    assert not differ, differ


def test_the_patch2loc_patch_size_ends_where_a_checkpoint_may_end():
    assert _block("patch2loc")["patch_size"]["maximum"] == MAX_PATCH
