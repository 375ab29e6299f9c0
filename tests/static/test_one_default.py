"""One home per default (docs/configuration.md, "One home per default").

A default is the value a run gets for a key no config file sets. Its home is either
config/schema.yaml's `default:` (the workflow fills it in before anything reads the config) or the
code: the field default of the dataclass a method block is read into (its `Settings`), or one
fallback where the config is read. Never both: a second copy drifts, and then the workflow and
`patch2loc train` or predict run different settings. config/config.yaml is not a default but the
paper's run, which the other configs override (tests/static/test_configfiles.py).

One declared exception: the method-block keys in FILLED keep a schema `default:` that copies their
dataclass's, because the workflow must see them filled in while it builds the DAG (they are part of
the training jobs' params, and a job whose params change runs again) and the dataclasses live in
modules that import torch, which building the DAG does not. The test holds each copy to its
dataclass and refuses any new one.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from patch2loc.registry import REGISTRY, implementation

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
LOOP = ("checkpoint_every",)  # every trained method's (methods.harness.LoopSettings)
DIFFUSION = ("mults", "blocks", "dropout", "timesteps", "noise_octaves", "noise_persistence", "noise_wavelength_mm")
FILLED = {
    "patch2loc": ("lr_schedule", "warmup_steps", "patch_size", *LOOP),
    "dae": ("weight_decay", "grad_clip", "depth", *LOOP),
    **{block: (*DIFFUSION, *LOOP) for block in ("ddpm", "pddpm", "cddpm")},
    **{block: ("beta1", "dropout", *LOOP) for block in ("ae", "vae")},
}
METHODS = [m for m in REGISTRY if m.config]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _schema_defaults(block: str) -> dict:
    props = _resolve(SCHEMA["properties"][block]).get("properties", {})
    return {key: _resolve(node)["default"] for key, node in props.items() if "default" in _resolve(node)}


def _field_defaults(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_a_method_blocks_defaults_live_in_its_dataclass_and_the_schema_copies_only_the_filled_ones(method):
    schema = _schema_defaults(method.config)
    extra = sorted(set(schema) - set(FILLED.get(method.config, ())))
    assert not extra, (
        f"config/schema.yaml gives `{method.config}.{extra[0]}` a default: its home is "
        f"{implementation(method.name).Settings.__name__}'s field default; remove the schema's"
    )
    fields = _field_defaults(implementation(method.name).Settings)
    for key, value in schema.items():
        assert key in fields and fields[key] == value, (
            f"{method.config}.{key}: the schema fills in {value!r}, the dataclass says {fields.get(key)!r}"
        )


def test_every_filled_key_is_still_filled():
    """FILLED names only keys the schema fills (a removed copy must leave the list too)."""
    for block, keys in FILLED.items():
        assert set(keys) <= set(_schema_defaults(block)), block


# `config["a"].get("b", {}).get("c", <value>)` in the rules: a fallback on the config.
FALLBACK = re.compile(r'config((?:\["\w+"\]|\.get\("\w+", \{\}\))*)\.get\("(\w+)", (?!\{\})([^)]+)\)')


def _schema_default_at(path: list[str]):
    node = SCHEMA
    for key in path:
        node = _resolve(node).get("properties", {}).get(key)
        if node is None:
            return None
    return _resolve(node).get("default")


def test_the_rules_hold_no_second_default_for_a_key_the_schema_fills():
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for match in FALLBACK.finditer(smk.read_text(encoding="utf-8")):
            path = [*re.findall(r'"(\w+)"', match.group(1)), match.group(2)]
            if _schema_default_at(path) is not None:
                found.append(f"{smk.name}: {'.'.join(path)} (the schema fills it in: read it without a fallback)")
    assert not found, found


def test_the_fallback_pattern_sees_a_fallback():
    text = 'x = config["evaluate"].get("bias", {}).get("age_edges", [40, 60])'
    (match,) = FALLBACK.finditer(text)
    assert re.findall(r'"(\w+)"', match.group(1)) + [match.group(2)] == ["evaluate", "bias", "age_edges"]
