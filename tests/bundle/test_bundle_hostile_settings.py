"""Hostile inputs: a bundle's or checkpoint's method settings are bounded before
any network is built. Before, a DDPM bundle with `test_steps: [0]` or `rescale: 1000` scored and
wrote maps (exit 0), and settings of the wrong type or out of range (`timesteps: 0`, `rescale: 0`
or 2.0, `patch_size: 0`, a seed of 2**80, test steps beyond the schedule or strings) ended in "a
bug in patch2loc" (exit 1). Each is now one line naming the bundle's member and the key, exit 2,
nothing written. The memory bombs (a child process, its peak measured) are in
test_bundle_hostile_settings_memory.py, the schema's agreement in test_bundle_hostile_settings_schema.py.
"""

from __future__ import annotations

import pytest
from tests.helpers.bundle import model_argv
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.safety import predict_argv, refused
from tests.helpers.settings import exported_bundle, fold_checkpoint, with_config

from patch2loc import cli
from patch2loc.errors import InputError
from patch2loc.methods.dae.train import DAEConfig
from patch2loc.methods.diffusion.variants import DDPMConfig


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """{method: (case, bundle)} for DDPM, pDDPM (squares of 8), cDDPM (resnet18) and the DAE."""
    base = tmp_path_factory.mktemp("settings")
    return {m: exported_bundle(base / m, m) for m in ("DDPM", "pDDPM", "cDDPM", "DAE")}


@pytest.fixture(autouse=True)
def _chain(monkeypatch):
    """The bundle's chain without registration (test_predict_diffusion's): what a setting did to the
    scoring before it was bounded is what these tests saw, not the chain's refusal of the tiny scan."""
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)


def test_the_untouched_bundles_are_scored(bundles, tmp_path):
    for method, (c, good) in bundles.items():
        assert cli.main(model_argv(c, good, tmp_path / method / "h.nii.gz")) == 0


def _refused(bundles, tmp_path, capsys, method: str, needle: str, **changes) -> str:
    c, good = bundles[method]
    bad = with_config(good, tmp_path / "b" / f"{method}.zip", **changes)
    line = refused(model_argv(c, bad, tmp_path / "out" / "h.nii.gz"), needle, tmp_path, capsys)
    assert f"{method}.zip:folds/fold0.pt: " in line  # the bundle's member, not its unpacked copy
    return line


# (method, changes, what the line says): the answers that were silently wrong, then the "bugs".
CASES = [
    ("DDPM", {"test_steps": [0]}, "config.test_steps [0] must be 1 whole numbers from 1 to 99999"),
    ("DDPM", {"rescale": 1000}, "config.rescale 1000 must be one of [1, 2, 4]"),
    ("DDPM", {"timesteps": 0}, "config.timesteps 0 must be a whole number from 2 to 100000"),
    ("DDPM", {"rescale": 0}, "config.rescale 0 must be one of [1, 2, 4]"),
    ("DDPM", {"rescale": 2.0}, "config.rescale 2.0 must be one of [1, 2, 4]"),
    ("pDDPM", {"patch_size": 0}, "config.patch_size 0 must be a whole number from 4 to 1024"),
    ("DDPM", {"seed": 2**80}, "config.seed 1208925819614629174706176 must be a whole number from 0 to"),
    ("DDPM", {"test_steps": [1000]}, "config.test_steps [1000] must each lie below config.timesteps 1000"),
    ("cDDPM", {"test_steps": [250, 500, 5000]}, "must each lie below config.timesteps 1000"),
    ("DDPM", {"test_steps": ["500"]}, "config.test_steps ['500'] must be 1 whole numbers from 1 to 99999"),
    ("DDPM", {"test_steps": []}, "config.test_steps [] must be 1 to 16 whole numbers"),
    ("DDPM", {"timesteps": True}, "config.timesteps True must be a whole number"),
    ("cDDPM", {"encoder": "resnet1000"}, "config.encoder resnet1000 must be one of [None, 'resnet18'"),
    ("DDPM", {"noise_persistence": float("nan")}, "config.noise_persistence nan must be a number from 0.01 to 1"),
    ("DDPM", {"noise_frequency_px": -1.0}, "config.noise_frequency_px -1.0 must be a number"),
    ("DDPM", {"mults": []}, "config.mults [] must be 1 to 6 whole numbers from 1 to 8"),
    ("DAE", {"depth": 0}, "config.depth 0 must be a whole number from 2 to 6"),
    ("DAE", {"width": "4"}, "config.width 4 must be a whole number from 1 to 1024"),
]


@pytest.mark.parametrize(("method", "changes", "says"), CASES, ids=[f"{m}-{next(iter(c))}" for m, c, _ in CASES])
def test_a_setting_out_of_range_is_one_line(bundles, tmp_path, capsys, method, changes, says):
    line = _refused(bundles, tmp_path, capsys, method, says, **changes)
    assert f"fold0.pt: not a usable {method} checkpoint: config." in line
    assert line.endswith(f"Pass a best.pt or last.pt written by the {method}'s training.")


# What took minutes or hours before, or gigabytes (their peak memory: the _memory tests, in a
# child process): each refused at once, by its range.
SLOW = [
    ("DDPM", {"timesteps": 10**9}, "config.timesteps 1000000000 must be a whole number from 2 to 100000"),
    ("DDPM", {"width": 4096}, "config.width 4096 must be a whole number from 1 to 1024"),
    ("DDPM", {"blocks": 5000}, "config.blocks 5000 must be a whole number from 1 to 8"),
    ("DDPM", {"noise_octaves": 10**6}, "config.noise_octaves 1000000 must be a whole number from 1 to 16"),
    ("DDPM", {"test_steps": list(range(1, 1000))}, "config.test_steps [1, 2, 3"),
    ("pDDPM", {"patch_size": 1}, "config.patch_size 1 must be a whole number from 4 to 1024"),
]


@pytest.mark.parametrize(
    ("method", "changes", "says"), SLOW, ids=["timesteps", "width", "blocks", "octaves", "test_steps", "patch_size"]
)
def test_what_took_hours_or_gigabytes_is_refused_at_once(bundles, tmp_path, capsys, method, changes, says):
    _refused(bundles, tmp_path, capsys, method, says, **changes)


def test_network_passes_per_slice_are_bounded(bundles, tmp_path, capsys):
    """Squares of 4 on 64 x 64 slices, two steps: 512 passes of the network per slice."""
    line = _refused(
        bundles, tmp_path, capsys, "pDDPM", "make 512 network passes per slice", patch_size=4,
        test_steps=[250, 500], volume_shape=[64, 64, 4],
    )  # fmt: skip
    assert "at most 256" in line


def test_the_self_attention_grid_is_bounded(bundles, tmp_path, capsys):
    """One level (no downsampling) on 128 x 128 slices: 16,384 pixels attend to each other."""
    _refused(
        bundles, tmp_path, capsys, "DDPM", "leave 16,384 pixels to the UNet's self-attention", mults=[1],
        volume_shape=[128, 128, 4],
    )  # fmt: skip


def test_a_missing_setting_is_named(bundles, tmp_path, capsys):
    c, good = bundles["DDPM"]
    bad = with_config(good, tmp_path / "b" / "DDPM.zip", drop=("timesteps",))
    refused(model_argv(c, bad, tmp_path / "out" / "h.nii.gz"), "config has no timesteps", tmp_path, capsys)


def test_a_plain_checkpoint_is_held_to_the_same_bounds(bundles, tmp_path, capsys):
    """--checkpoint (and --from-run, export) read checkpoints through the same load."""
    c, good = bundles["DDPM"]
    bad = fold_checkpoint(good, tmp_path / "ck" / "best.pt", rescale=1000)
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz", "--method", "DDPM", ckpt=bad)
    line = refused(argv, "config.rescale 1000 must be one of [1, 2, 4]", tmp_path, capsys)
    assert f"error: {bad}: not a usable DDPM checkpoint: config.rescale" in line


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"timesteps": 0}, "ddpm.timesteps 0 must be a whole number from 2 to 100000"),
        ({"rescale": 1000}, "ddpm.rescale 1000 must be one of [1, 2, 4]"),
        ({"test_steps": [1000]}, "ddpm.test_steps [1000] must each lie below ddpm.timesteps 1000"),
        ({"seed": 2**80}, "ddpm.seed"),
        ({"width": 4096}, "ddpm.width 4096 must be a whole number from 1 to 1024"),
    ],
)
def test_the_workflow_block_is_held_to_the_same_bounds(changes, says):
    """Training reads its config block into the same rules (its config/schema.yaml block agrees)."""
    with pytest.raises(InputError) as err:
        DDPMConfig(**changes)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_the_dae_block_is_held_to_the_same_bounds():
    with pytest.raises(InputError, match="dae.width 4096 must be a whole number from 1 to 1024"):
        DAEConfig(width=4096)
