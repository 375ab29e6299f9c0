"""One home per default (docs/configuration.md, "One home per default").

A default is the value a run gets for a key no config file sets. Its home is either
config/schema.yaml's `default:` (the workflow fills it in before anything reads the config) or the
code: the field default of the dataclass a method block is read into (its `Settings`), or one
fallback where the config is read. Never both: a second copy drifts, and then the workflow and
`patch2loc train` or predict run different settings. config/config.yaml is not a default but the
paper's run, which the other configs override (tests/static/test_configfiles.py).

The workflow does not fill a method block in: a training job's params hold what the config files
set, and the dataclass gives the rest when the job builds its settings (the dataclasses import
torch, which building the DAG does not). The download and archive budgets (`download`, `extract`)
live in the code that reads them (data/download.py, data/unpack.py), which the rehearsals and the
workflow's scripts call alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from patch2loc.data import download
from patch2loc.data.unpack import budget_from_config
from patch2loc.data import unpack
from patch2loc.registry import REGISTRY, implementation

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
METHODS = [m for m in REGISTRY if m.config]


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _schema_defaults(block: str) -> dict:
    props = _resolve(SCHEMA["properties"][block]).get("properties", {})
    return {key: _resolve(node)["default"] for key, node in props.items() if "default" in _resolve(node)}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_a_method_blocks_defaults_live_only_in_its_dataclass(method):
    schema = _schema_defaults(method.config)
    assert not schema, (
        f"config/schema.yaml gives `{method.config}.{sorted(schema)[0]}` a default: its home is "
        f"{implementation(method.name).Settings.__name__}'s field default; remove the schema's"
    )


@pytest.mark.parametrize("block", ["download", "extract"])
def test_the_budgets_defaults_live_only_in_the_code_that_reads_them(block):
    schema = _schema_defaults(block)
    assert not schema, f"config/schema.yaml gives `{block}.{sorted(schema)[0]}` a default: its home is data/"
    keys = set(_resolve(SCHEMA["properties"][block])["properties"])
    code = {"download": download.KEYS, "extract": unpack.KEYS}[block]
    assert set(code) == keys, f"{block}: the schema names {sorted(keys)}, the code defaults {sorted(code)}"


def test_an_empty_budget_block_reads_as_the_codes_defaults():
    assert download.times_from_config({}) == {"timeout": download.TIMEOUT_S, "deadline": download.DEADLINE_S}
    assert budget_from_config({}) == budget_from_config(unpack.KEYS)


def test_the_schema_defaults_check_sees_a_default():
    assert _schema_defaults("evaluate")["space"] == "native"


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
