"""The env files (envs/*.yaml) and their package catalog (envs/packages.yaml), read in one place.

A conda spec is turned into a pip requirement here (and only here): conda's `name=1.2` means any
1.2.x, pip's `==1.2.*`; `==`, ranges and bare names read the same in both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
ENVS = REPO / "envs"
CATALOG = ENVS / "packages.yaml"
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Dep:
    name: str  # the conda (or, under pip:, the PyPI) name, lower case
    spec: str  # the version spec as written ("" for none)
    pip: bool  # listed under `pip:` (installed from PyPI by conda's pip)

    @property
    def specifier(self) -> SpecifierSet:
        return SpecifierSet(pip_spec(self.spec))

    def admits(self, version: str) -> bool:
        return self.specifier.contains(Version(version), prereleases=True)


@dataclass(frozen=True)
class Env:
    path: Path
    deps: tuple[Dep, ...]

    @property
    def name(self) -> str:
        return self.path.stem

    def dep(self, name: str) -> Dep | None:
        return next((d for d in self.deps if d.name == name), None)

    @property
    def python(self) -> Dep:
        dep = self.dep("python")
        if dep is None:
            raise ValueError(f"{self.path}: no `python` line; pin the Python the env runs (python=3.11).")
        return dep


def pip_spec(spec: str) -> str:
    """conda version spec -> PEP 440 specifier (`=1.2` -> `==1.2.*`; the others as written)."""
    spec = spec.replace(" ", "")
    if re.fullmatch(r"=[^=<>!,]+", spec):
        return f"=={spec[1:].rstrip('.*')}.*"
    return spec


def parse_dep(item: str, pip: bool) -> Dep:
    found = _SPEC.match(item.split("#", 1)[0])
    if not found:
        raise ValueError(f"cannot read the env line {item!r}")
    return Dep(found.group(1).lower(), found.group(2), pip)


def read_env(path: Path) -> Env:
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    deps = []
    for item in spec.get("dependencies", []):
        if isinstance(item, dict):
            deps += [parse_dep(p, True) for p in item.get("pip") or []]
        else:
            deps.append(parse_dep(str(item), False))
    return Env(Path(path), tuple(deps))


def env_files(root: Path = ENVS) -> list[Path]:
    """Every environment file: envs/*.yaml (but the catalog and the record of what ran, tested.yaml)
    and the CPU variants in envs/cpu/."""
    files = [p for p in sorted(root.glob("*.yaml")) if p.name not in (CATALOG.name, "tested.yaml")]
    return files + sorted((root / "cpu").glob("*.yaml"))


def catalog(path: Path = CATALOG) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def pypi_name(dep: Dep, packages: dict) -> str | None:
    """What pip installs for a dep (None: nothing, e.g. python); a pip: line is its own name."""
    if dep.pip:
        return dep.name
    if dep.name not in packages:
        raise KeyError(f"{dep.name}: not in {CATALOG.relative_to(REPO)}; add its PyPI name and imports there.")
    return packages[dep.name].get("pypi")


def requirements(env: Env, packages: dict) -> list[str]:
    """pip requirements for every dep of an env but python, with the env file's bounds."""
    reqs = []
    for dep in env.deps:
        name = pypi_name(dep, packages)
        if dep.name != "python" and name:
            reqs.append(f"{name}{pip_spec(dep.spec)}")
    return reqs


def providers(packages: dict) -> dict[str, set[str]]:
    """import name or program -> the catalog names that provide it."""
    out: dict[str, set[str]] = {}
    for name, entry in packages.items():
        for provided in [*(entry.get("imports") or []), *(entry.get("programs") or [])]:
            out.setdefault(provided, set()).add(name)
    return out
