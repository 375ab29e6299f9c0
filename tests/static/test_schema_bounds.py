"""Every number of config/schema.yaml has an upper bound (and every list of numbers a length), so a
typo or a crafted `--config` override is refused at start-up instead of running out of memory or time:
a median filter of 10,001 voxels, 10^9 bootstrap resamples, a demo spacing of 0.001 mm, a DAE noise
cell of 1e-6 mm or an AE bottleneck of 10^6 passed before. The configs the project ships stay valid."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from patch2loc.run.configfiles import load as load_configfiles

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "config" / "schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _numbers(node, path="config"):
    """(path, property) of every number or integer in the schema, and of every array."""
    node = _resolve(node)
    kinds = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
    if {"integer", "number"} & set(kinds):
        yield path, node
    if "array" in kinds:
        yield path, node
        yield from _numbers(node.get("items", {}), path + "[]")
    for key, sub in (node.get("properties") or {}).items():
        yield from _numbers(sub, f"{path}.{key}")
    for key, sub in (node.get("patternProperties") or {}).items():
        yield from _numbers(sub, f"{path}.{key}")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _numbers(extra, f"{path}.*")


def test_every_number_has_an_upper_bound_and_every_list_a_length():
    unbounded = []
    for path, node in _numbers(SCHEMA):
        kinds = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        if "array" in kinds:
            bounded = "maxItems" in node or node.get("uniqueItems") and "enum" in _resolve(node.get("items", {}))
        else:
            bounded = "maximum" in node or "exclusiveMaximum" in node or "enum" in node
        if not bounded:
            unbounded.append(path)
    assert not unbounded, f"no upper bound: {unbounded}"


def test_a_key_without_a_type_of_its_own_is_bounded_by_its_methods_rules():
    """The schema leaves a method block's network settings to the method's RULES (patch2loc.training.blockbounds)."""
    from patch2loc.registry import REGISTRY
    from patch2loc.training.blockbounds import block_rules

    ruled = {(m.config, key) for m in REGISTRY if m.config for key in block_rules(m)}
    untyped = []
    for block, node in SCHEMA["properties"].items():
        for key, sub in (_resolve(node).get("properties") or {}).items():
            if not {"type", "enum", "$ref"} & set(sub) and (block, key) not in ruled:
                untyped.append(f"{block}.{key}")
    assert not untyped, f"neither a type and bounds in the schema nor a method's RULES: {untyped}"


def _start_up(cfg: dict) -> None:
    """What rules/common.smk checks a config with: the schema, then the method blocks' own bounds."""
    from snakemake.utils import validate

    from patch2loc.training.blockbounds import check_method_blocks

    validate(cfg, str(SCHEMA_PATH))
    check_method_blocks(cfg)


def _merged(*names: str) -> dict:
    """The config of these files as the workflow reads them (`extends`, `drop`, later keys winning)."""
    return load_configfiles([REPO / "config" / name for name in names])


SHIPPED = [
    ("config.yaml",),
    ("demo.yaml",),
    ("demo.yaml", "demo_long.yaml"),
    ("rehearsal.yaml",),
    *[("demo.yaml", f"ablation/{p.name}") for p in sorted((REPO / "config" / "ablation").glob("*.yaml"))],
]


@pytest.mark.parametrize("names", SHIPPED, ids=lambda n: "+".join(n))
def test_the_shipped_configs_stay_valid(names):
    _start_up(_merged(*names))


@pytest.mark.parametrize(
    "path, value",
    [
        ("heatmap.median_size", 10_001),
        ("evaluate.bootstrap.resamples", 10**9),
        ("demo.spacing", 0.001),
        ("dae.noise_cell_mm", 1e-6),
        ("dae.noise_cell_mm", 1e9),
        ("ae.bottleneck", 10**6),
        ("heatmap.stride", 10_000),
        ("patch2loc.patches_per_step", 10**8),
        ("preprocess.spacing", [0.01, 0.01, 0.01]),
        ("preprocess.target_shape", [100_000, 192, 100]),
        ("evaluate.bias.age_edges", list(range(1000))),
        ("ddpm.batch_size", 10**6),
        ("report.figure_subjects", 10**6),
    ],
)
def test_an_override_beyond_a_bound_is_refused_at_start_up(path, value):
    """What `snakemake --config key=value` gives rules/common.smk's checks."""
    cfg = _merged("demo.yaml", "demo_long.yaml")
    cfg.setdefault("ae", copy.deepcopy(cfg.get("vae", {})))
    cfg["ae"].pop("kl_weight", None)
    *parents, key = path.split(".")
    node = cfg
    for part in parents:
        node = node.setdefault(part, {})
    _start_up(copy.deepcopy(cfg))  # the config itself is valid
    node[key] = value
    with pytest.raises(Exception, match=key):
        _start_up(cfg)
