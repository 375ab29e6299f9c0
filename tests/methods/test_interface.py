"""Every registry line's module provides the method interface (`patch2loc.interface`): what the
front ends call on it is there, with the arguments they pass, and a trained method's bounds are
the module its registry line names."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from patch2loc.interface import MethodModule, TrainedModule
from patch2loc.registry import REGISTRY, implementation
from patch2loc.scoring.protocol import Protocol, reference_of

NAMES = [m.name for m in REGISTRY]


def _parameters(func) -> list[str]:
    return [p.name for p in inspect.signature(func).parameters.values()]


def _members(protocol) -> set[str]:
    """The names a protocol states: its annotations and its functions, the bases' included."""
    names = set()
    for cls in protocol.__mro__:
        if cls.__module__ == "patch2loc.interface":
            names |= set(cls.__dict__.get("__annotations__", {}))
            names |= {k for k, v in cls.__dict__.items() if inspect.isfunction(v) and not k.startswith("_")}
    return names


@pytest.mark.parametrize("name", NAMES)
def test_each_registry_module_is_a_method_module(name):
    entry = next(m for m in REGISTRY if m.name == name)
    module = implementation(name)
    protocol = TrainedModule if entry.trains else MethodModule
    missing = [key for key in _members(protocol) if not hasattr(module, key)]
    assert isinstance(module, protocol), f"{entry.module} lacks {missing} ({protocol.__name__})"
    assert _parameters(module.score)[:4] == ["model", "image", "mask", "settings"]
    assert isinstance(module.activation_bytes((8, 8, 4), {}, None), int)
    assert dataclasses.is_dataclass(module.ScoreOptions)
    assert module.REFERENCE_PROTOCOL is None or isinstance(module.REFERENCE_PROTOCOL, Protocol)
    assert reference_of(name) is module.REFERENCE_PROTOCOL
    if entry.trains:
        assert dataclasses.is_dataclass(module.Settings)
        named = module.Settings.__dataclass_fields__.get("method")  # a family's or a variant's name in its checkpoints
        assert named is None or named.default == name
        assert {"modality", "threads", "progress"} <= set(_parameters(module.train_from_files))
        assert _parameters(module.load)[:2] == ["checkpoint", "device"]
        assert bool(entry.bounds) == hasattr(module, "RANGES"), f"{name}: its bounds not named on its registry line"


@pytest.mark.parametrize("entry", [m for m in REGISTRY if m.bounds], ids=lambda m: m.name)
def test_a_registry_line_names_a_bounds_module_with_rules(entry):
    rules = importlib.import_module(entry.bounds).RULES
    assert rules and entry.bounds.startswith(entry.module.rsplit(".", 1)[0] + ".")  # in the method's package


def test_an_offline_variant_is_a_subclass_of_its_methods_settings():
    for entry in REGISTRY:
        if entry.variant_of:
            settings, paper = implementation(entry.name).Settings, implementation(entry.variant_of).Settings
            assert issubclass(settings, paper) and settings is not paper
            assert settings().weights == "random"


def test_a_module_without_the_interface_is_refused():
    class Partial:
        def score(self, model, image, mask, settings):
            return {}

    assert not isinstance(Partial(), MethodModule)  # no activation_bytes, ScoreOptions, REFERENCE_PROTOCOL
