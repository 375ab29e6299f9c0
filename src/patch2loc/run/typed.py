"""A settings block's values held to the types its dataclass declares, wherever the block came from
(the workflow's config, `patch2loc train`'s flags, a resumed run's last.pt, a bundle's settings, a
hand-edited file): a bool is not an int, a string is not a number, NaN and infinity are not
numbers. One line names the key, the value and the type wanted. The schema checks the workflow's
config at start-up; this holds every other way in, and is the one check every block passes
(`settings.config_from_dict`, `training.harness.check_settings`)."""

from __future__ import annotations

import math
import types
import typing
from dataclasses import fields, is_dataclass
from functools import lru_cache

from patch2loc.errors import InputError


@lru_cache(maxsize=None)
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _names(kind) -> str:
    if kind is type(None):
        return "null"
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_names(k) for k in typing.get_args(kind))
    if origin in (tuple, list):
        return f"a list of {_names(typing.get_args(kind)[0])}s" if typing.get_args(kind) else "a list"
    return {int: "a whole number", float: "a finite number", str: "a string", bool: "true or false"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def fits(value, kind) -> bool:
    """Whether `value` is of the declared `kind` (int, float, str, bool, None, their unions, tuples
    and lists of them; other kinds are not checked here)."""
    if kind is typing.Any:
        return True
    if kind is type(None):
        return value is None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, k) for k in typing.get_args(kind))
    if origin in (tuple, list):
        args = typing.get_args(kind)
        if not isinstance(value, (tuple, list)):
            return False
        if not args:
            return True
        if len(args) == 1 or args[-1] is Ellipsis:  # list[X], tuple[X, ...]
            return all(fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(fits(v, a) for v, a in zip(value, args))
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is str:
        return isinstance(value, str)
    return True


def check_types(cls, values: dict, what: str) -> None:
    """Each of `values` ({key: value} of a block of dataclass `cls`) of its field's type; one line
    naming the first that is not."""
    hints = _hints(cls)
    for key, value in values.items():
        kind = hints.get(key)
        if kind is not None and not fits(value, kind):
            shown = repr(value) if not isinstance(value, str) or len(value) < 40 else repr(value[:40]) + "..."
            raise InputError(
                f"{what}.{key}={shown}: must be {_names(kind)}, not {type(value).__name__}"
                + (
                    " (NaN and infinity are not numbers)"
                    if isinstance(value, float) and not math.isfinite(value)
                    else ""
                )
                + f"; fix {key} in the settings block."
            )


def check_instance(cfg, what: str) -> None:
    """A built settings dataclass's fields checked as `check_types` checks a block."""
    if is_dataclass(cfg):
        check_types(type(cfg), {f.name: getattr(cfg, f.name) for f in fields(cfg)}, what)
