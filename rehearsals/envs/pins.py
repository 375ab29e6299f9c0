"""Pins that say what ran: record the versions the env rehearsal's environments (and this
interpreter, for pyproject.toml) hold, then write every env file's and pyproject.toml's bounds from
them, and the CPU variants of the PyTorch envs (envs/cpu/).

    python -m rehearsals.envs.pins ENVS_PREFIX      (make pins; ENVS_PREFIX: the rehearsal's
                                                conda prefix, results/rehearsal-envs/envs)
    python -m rehearsals.envs.pins --check          (make pins-check: writes nothing)
    python -m rehearsals.envs.pins --from-tested    (the files from envs/tested.yaml as recorded,
                                                e.g. after a floor in envs/packages.yaml changed)

Bounds of a package that ran at version A.B.C: >=its floor in envs/packages.yaml (the oldest release
the tests ran with, make test-oldest; >=A.B where it names none), <A+1 (<A.(B+1) for 0.x releases
and for packages marked `upper: minor`). Kept as written: exact pins (==, conda's =A.B.C), python,
an unversioned pip, and the `bounds` envs/packages.yaml sets by hand. --check exits 1 if a file
would change (the static check runs it for the CPU variants).
"""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

import yaml

from rehearsals.envs.build import installed, source_env
from rehearsals.envs.spec import ENVS, REPO, catalog, env_files, parse_dep, read_env

TESTED = ENVS / "tested.yaml"
_LINE = re.compile(r"^(?P<lead>\s*-\s+)(?P<item>[A-Za-z0-9_.\-]+[^#\n]*?)(?P<tail>\s*(#.*)?)$", re.M)
_QUOTED = re.compile(r'(?P<lead>")(?P<item>[A-Za-z][A-Za-z0-9_.\-]*[<>=!~][^"]*|[A-Za-z][A-Za-z0-9_.\-]*)(?P<tail>")')
# pyproject.toml's requirement lists that `make pins` bounds: the package's and the extras a user
# installs to run it (the test extra's tools keep their own pins).
PYPROJECT_LISTS = re.compile(r"(?ms)^(dependencies = \[\n.*?^\]|(?:demo|bids|workflow) = \[[^\n]*\])")
CPU_HEADER = (
    "# Written by `make pins` from envs/{name}.yaml: the same packages with the CPU build of PyTorch\n"
    "# (conda-forge's pytorch-cpu), for a CPU-only site (config device.torch_build: cpu). Do not edit.\n"
)


def key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def bounds(version: str, entry: dict) -> str:
    major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
    lower = (entry.get("floor") or [f"{major}.{minor}"])[0]
    upper = f"{major}.{minor + 1}" if major == 0 or entry.get("upper") == "minor" else f"{major + 1}"
    return f">={lower},<{upper}"


def new_spec(name: str, spec: str, ran: dict, packages: dict) -> str:
    """The spec `make pins` writes for one package (the old one where it is kept)."""
    entry = packages.get(name) or packages.get(key(name)) or {}
    exact = spec.startswith("==") or re.fullmatch(r"=[0-9][^,<>]*", spec)
    if name == "python" or exact or (name == "pip" and not spec):
        return spec
    if entry.get("bounds"):
        return entry["bounds"][0]
    version = ran.get(key(entry.get("pypi") or name))
    if version is None:
        raise SystemExit(f"{name}: no version of it ran here; run make rehearse-envs first.")
    return bounds(version, entry)


def rewrite(text: str, pattern: re.Pattern, ran: dict, packages: dict, pip: bool) -> str:
    def one(match: re.Match) -> str:
        if match["item"].rstrip().endswith(":"):  # `- pip:`, the start of the pip section
            return match[0]
        dep = parse_dep(match["item"], pip)
        spec = new_spec(dep.name, dep.spec, ran, packages)
        return f"{match['lead']}{match['item'].split(dep.spec)[0].rstrip() if dep.spec else match['item']}{spec}{match['tail']}"

    return pattern.sub(one, text)


def cpu_variant(name: str, text: str) -> str:
    body = re.sub(r"\A(#[^\n]*\n)+", "", text)
    return CPU_HEADER.format(name=name) + body.replace("pytorch-gpu", "pytorch-cpu")


def record(prefix_root: Path) -> dict:
    """{'envs': {name: {package: version}}, 'host': {...}} from the built envs under prefix_root."""
    envs = {}
    for prefix in sorted(p for p in prefix_root.iterdir() if p.is_dir()):
        source = source_env(prefix)
        if source and source.startswith("envs/") and "/cpu/" not in source:
            have = {key(k): v for k, v in installed(prefix).items()}
            wanted = [d for d in read_env(REPO / source).deps if d.name != "pip" or d.pip]
            names = {key(catalog()["packages"].get(d.name, {}).get("pypi") or d.name) for d in wanted}
            envs[Path(source).stem] = {n: have[n] for n in sorted(names | {"python"}) if n in have}
    from importlib import metadata

    host = {key(d.metadata["Name"]): d.version for d in metadata.distributions()}
    return {"envs": envs, "host": dict(sorted(host.items()))}


def planned(tested: dict) -> dict[Path, str]:
    """path -> the text `make pins` writes there."""
    packages = catalog()["packages"]
    out = {}
    for path in env_files():
        if path.parent.name == "cpu":
            continue
        ran = {key(k): str(v) for k, v in tested["envs"].get(path.stem, {}).items()}
        head, deps = path.read_text(encoding="utf-8").split("\ndependencies:\n", 1)
        text = head + "\ndependencies:\n" + rewrite(deps, _LINE, ran, packages, pip=False)
        out[path] = text
        if "pytorch-gpu" in text:
            out[ENVS / "cpu" / path.name] = cpu_variant(path.stem, text)
    pyproject = REPO / "pyproject.toml"
    host = {key(k): str(v) for k, v in tested["host"].items()}
    by_pypi = {key(e["pypi"]): e for e in packages.values() if e.get("pypi")}
    text = pyproject.read_text(encoding="utf-8")
    out[pyproject] = PYPROJECT_LISTS.sub(lambda m: rewrite(m[0], _QUOTED, host, by_pypi, pip=True), text)
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    if check or "--from-tested" in argv:
        tested = yaml.safe_load(TESTED.read_text(encoding="utf-8"))
    else:
        tested = {"date": date.today().isoformat(), **record(Path(argv[0]))}
        TESTED.write_text(
            "# Written by `make pins` (rehearsals/envs/pins.py): the versions that ran here, in the env\n"
            "# rehearsal's environments (envs) and in the interpreter that ran it (host, for pyproject.toml).\n"
            + yaml.safe_dump(tested, sort_keys=False),
            encoding="utf-8",
        )
    stale = []
    for path, text in planned(tested).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path.relative_to(REPO)))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    print(("out of date: " if check else "written: ") + (", ".join(stale) or "nothing"))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
