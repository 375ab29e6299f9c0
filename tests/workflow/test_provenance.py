"""A run's versions.txt names the patch2loc that ran, also where it is imported from src/ without
being installed (a rule's conda env)."""

from __future__ import annotations

from importlib import metadata

import patch2loc
from patch2loc.run import provenance


def test_the_run_record_carries_the_release_version_without_an_install(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(provenance.metadata, "version", not_installed)
    versions = provenance.package_versions()
    assert versions["patch2loc"] == patch2loc.__version__ != "not installed"
    assert versions["torch"] == "not installed"
    assert f"patch2loc: {patch2loc.__version__}\n" in provenance.versions_text()
