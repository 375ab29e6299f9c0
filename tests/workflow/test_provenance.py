"""A run's versions.txt names the patch2loc that ran, also where it is imported from src/ without
being installed (a rule's conda env)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import patch2loc
from patch2loc.run import provenance


def test_the_run_record_carries_the_release_version_without_an_install(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(provenance.metadata, "version", not_installed)
    versions = provenance.package_versions()
    assert versions["patch2loc"] == patch2loc.__version__ != "not installed"
    assert versions["scipy"] == "not installed"
    assert f"patch2loc: {patch2loc.__version__}\n" in provenance.versions_text()


def test_a_checkpoint_records_torchvisions_own_version_without_importing_it():
    code = (
        "import sys\n"
        "from patch2loc.run.provenance import checkpoint_versions\n"
        "recorded = checkpoint_versions()['torchvision']\n"
        "assert 'torchvision' not in sys.modules, 'imported'\n"
        "import torchvision\n"
        "assert recorded == torchvision.__version__, (recorded, torchvision.__version__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_run_record_and_a_checkpoint_name_the_same_torch_and_torchvision_builds():
    import torch
    import torchvision

    lines = dict(line.split(": ", 1) for line in provenance.versions_text().splitlines())
    saved = provenance.checkpoint_versions()
    for name, module in (("torch", torch), ("torchvision", torchvision)):
        assert lines[name] == saved[name] == module.__version__, (name, lines[name], saved[name])


def test_a_torchvision_without_its_version_file_is_named_by_its_release(tmp_path, monkeypatch):
    package = tmp_path / "torchvision"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.setattr(provenance.importlib.util, "find_spec", lambda name: _spec_at(package))
    monkeypatch.setattr(provenance.metadata, "version", lambda name: f"{name} 9.9")
    assert provenance.built_version("torchvision") == "torchvision 9.9"
    (package / "version.py").write_text("__version__ = '9.9.1+cpu'\ngit_version = 'x'\n")
    assert provenance.built_version("torchvision") == "9.9.1+cpu"


def _spec_at(package):
    from importlib.machinery import ModuleSpec

    spec = ModuleSpec("torchvision", None, is_package=True)
    spec.submodule_search_locations = [str(package)]
    return spec
