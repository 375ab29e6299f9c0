"""The workflow's method blocks held to their methods' own bounds at start-up.

A method whose network is rebuilt from its settings keeps their bounds in one table, `RULES` of the
bounds module its registry line names (`bounds`: methods/dae/bounds.py, methods/diffusion/bounds.py,
...; ranges.py's format): its training checks its block against it and
its scoring every checkpoint's config. config/schema.yaml names those keys and says what they mean,
not their bounds; rules/common.smk calls `check_method_blocks` right after the schema, so a value out
of bounds still stops the run at start-up with one line naming the key. The bounds modules import
nothing heavy (no torch): building the DAG stays fast.
"""

from __future__ import annotations

import importlib

from patch2loc.checks.ranges import check_block
from patch2loc.registry import REGISTRY, Method


def block_rules(method: Method) -> dict:
    """The rules of `method`'s config block: RULES of the bounds module its registry line names ({}: none)."""
    return importlib.import_module(method.bounds).RULES if method.bounds else {}


def check_method_blocks(config: dict, where: str = "config") -> None:
    """Each method block the config has within its method's bounds; InputError naming `block.key`."""
    for method in REGISTRY:
        if method.config and isinstance(config.get(method.config), dict):
            check_block(config[method.config], block_rules(method), method.config, where)
