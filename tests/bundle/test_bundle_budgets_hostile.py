"""Memory and disk budgets, the bundle's part: a bundle's or a run's spacing
that would take gigabytes, a config with an alias bomb, a bundle that would unpack gigabytes or holds too many
folds; refused before anything is read or written (exit 2, one stderr line naming the file and the setting), in this
process and (slow) in a child whose peak memory is measured (helpers/hostile.py refused_in_child)."""

# ruff: noqa: F811  (pytest: the fixtures imported from tests/helpers/budget_fixtures.py are parameters here)
from __future__ import annotations


import pytest
import yaml

from tests.helpers.budget_cases import bomb_config, demo_bundle, inflating_folds, spacing
from tests.helpers.bundle import model_argv, rewrite
from tests.helpers.fake_chain import from_run_argv

from tests.helpers.budget_fixtures import MODES, c, refuse  # noqa: F401  (fixtures)


# ---------------------------------------------------------------- the settings a bundle carries


@pytest.fixture()
def bundle(c, tmp_path):
    """A genuine bundle whose atlas is demo-sized (64 x 76 x 64 voxels of 3 mm)."""
    return demo_bundle(c, tmp_path)


@pytest.mark.parametrize("child", MODES)
def test_a_bundle_spacing_that_would_take_gigabytes_is_refused_by_the_budget(c, tmp_path, bundle, refuse, child):
    _, zipped = bundle
    rewrite(zipped, spacing([0.35, 0.35, 0.35]), rehash=True)  # manifest hash recomputed
    line = refuse(child, model_argv(c, zipped, tmp_path / "out" / "x.nii.gz"), "PATCH2LOC_MEMORY_BUDGET_MB")
    assert "[0.35, 0.35, 0.35] mm spacing" in line and "(the registration chain)" in line
    assert f"{zipped}: settings.json (preprocess.spacing)" in line  # the setting and where it comes from


@pytest.mark.parametrize("child", MODES)
@pytest.mark.parametrize("where", ["bundle", "run", "export"])
def test_a_spacing_out_of_range_is_refused_at_open_in_export_and_in_predict(c, tmp_path, bundle, where, refuse, child):
    run, zipped = bundle
    if where == "bundle":
        rewrite(zipped, spacing([0.01, 0.01, 0.01]), rehash=True)
        argv = model_argv(c, zipped, tmp_path / "out" / "x.nii.gz")
    else:
        cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
        cfg["preprocess"]["spacing"] = [0.01, 0.01, 0.01]
        (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
        argv = (
            ["export", str(run), "--modality", "T1", "--out", str(tmp_path / "out" / "again.zip")]
            if where == "export"
            else from_run_argv(run, c, tmp_path / "out" / "x.nii.gz")
        )
    line = refuse(child, argv, "preprocess.spacing [0.01, 0.01, 0.01] must be 3 numbers from 0.2 to 20")
    assert ("settings.json" if where == "bundle" else "config.resolved.yaml") in line


# ---------------------------------------------------------------- YAML aliases


@pytest.mark.parametrize("child", MODES)
@pytest.mark.parametrize("command", ["export", "predict --from-run"])
def test_a_config_with_an_alias_bomb_is_refused_without_expanding_it(c, tmp_path, bundle, command, refuse, child):
    run, _ = bundle
    text = bomb_config(run)
    assert len(text.encode()) < 4096 and yaml.safe_load(text)["normalize"]["percentile"] == 98.0
    argv = (
        ["export", str(run), "--modality", "T1", "--out", str(tmp_path / "out" / "again.zip")]
        if command == "export"
        else from_run_argv(run, c, tmp_path / "out" / "x.nii.gz")
    )
    line = refuse(child, argv, "its YAML aliases expand to more than 100,000 values")
    assert "config.resolved.yaml" in line


# ---------------------------------------------------------------- what a bundle would unpack


@pytest.mark.parametrize("child", MODES)
def test_a_bundle_that_would_unpack_gigabytes_is_refused_before_anything_is_written(c, tmp_path, bundle, refuse, child):
    _, zipped = bundle
    inflating_folds(zipped, 3, 1 << 30)  # three folds of 1 GiB each: each within its own limit
    assert zipped.stat().st_size < 8 << 20
    line = refuse(child, model_argv(c, zipped, tmp_path / "out" / "x.nii.gz"), "PATCH2LOC_MAX_BUNDLE_MB")
    assert "its members declare 3,07" in line and "nothing was unpacked" in line


@pytest.mark.parametrize("child", MODES)
def test_a_bundle_of_too_many_folds_is_refused(c, tmp_path, bundle, refuse, child):
    _, zipped = bundle
    inflating_folds(zipped, 11, 16 << 20)
    line = refuse(child, model_argv(c, zipped, tmp_path / "out" / "x.nii.gz"), "11 folds, more than the 10")
    assert "manifest.json" in line
