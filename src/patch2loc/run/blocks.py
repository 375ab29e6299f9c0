"""A config's method blocks as a run sees them: each key a block leaves out is its method's settings
dataclass field default (the registry's `Settings`; cDDPM's `pretrain:` part, its pre-training's
`PretrainConfig`). The dataclasses are the one home of those defaults (docs/settings.md); config
files set only what differs. This imports the methods' implementations (torch): the tools, checks
and benchmarks that need a whole block call it, building the workflow's DAG does not.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from pathlib import Path

import yaml

from patch2loc.registry import REGISTRY, Method, implementation

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"  # the repository's (a checkout)


def field_defaults(cls) -> dict:
    """{field: default} of a dataclass's fields that have one (factories called)."""
    return {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }


def pretrain_key(method: Method) -> str | None:
    """The key of `method`'s block that holds its pre-training's settings (cDDPM: `pretrain`)."""
    return method.pretrain.name.rsplit("-", 1)[-1] if method.pretrain else None


def pretrain_settings(method: Method):
    """The settings dataclass of `method`'s pre-training."""
    return importlib.import_module(method.pretrain.module).PretrainConfig


def block_methods() -> list[Method]:
    """One registry line per method block (an offline variant shares its paper method's block)."""
    return [m for m in REGISTRY if m.config and not m.variant_of]


def _stated(defaults: dict, keys) -> dict:
    """The defaults of a block's keys that a config could state (null: the field's own "unset")."""
    return {k: v for k, v in defaults.items() if k in keys and v is not None}


def filled(config: dict, schema: Path = SCHEMA) -> dict:
    """A copy of `config` whose method blocks state every key of theirs they leave out (the keys the
    schema names for the block; a null default stays unstated, as the field itself leaves it)."""
    config = copy.deepcopy(config)
    props = yaml.safe_load(schema.read_text(encoding="utf-8"))
    keys = lambda node: set(schema_node(props, node).get("properties", {}))  # noqa: E731
    for method in block_methods():
        block = config.get(method.config)
        if not isinstance(block, dict):
            continue
        node = schema_node(props, props["properties"][method.config])
        sub = pretrain_key(method)
        if sub and isinstance(block.get(sub), dict):
            pre = _stated(field_defaults(pretrain_settings(method)), keys(node["properties"][sub]))
            block = {**block, sub: {**pre, **block[sub]}}
        config[method.config] = {**_stated(field_defaults(implementation(method.name).Settings), keys(node)), **block}
    return config


def schema_node(schema: dict, node: dict) -> dict:
    """`node` of `schema` with its `$ref`s followed."""
    while "$ref" in node:
        target = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node
