"""Config blocks -> dataclasses, the one way: unknown keys are an error that names them (a
misspelt key is never dropped silently), every value is of its field's type (typed.py: a bool is
not an int, a string not a number, NaN not a number), lists become tuples where the dataclass wants
tuples."""

from __future__ import annotations

from dataclasses import fields

from patch2loc.errors import InputError


def config_from_dict(cls, d: dict, what: str, tuples: tuple[str, ...] = ()):
    """`cls(**d)`, refusing keys `cls` does not have; the keys in `tuples` are turned into tuples."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"{what}: unknown key(s) {unknown}; known keys are {sorted(known)}.")
    from patch2loc.run.typed import check_types

    check_types(cls, d, what)
    return cls(**{k: tuple(v) if k in tuples and v is not None else v for k, v in d.items()})


def check_network(check, architecture: dict, where: str) -> None:
    """A block's network settings `architecture` through its network's `check(architecture, where)`,
    whose ValueError (the network it would build is out of bounds) becomes the block's one line."""
    try:
        check(architecture, where)
    except ValueError as exc:
        raise InputError(str(exc) + ".") from None
