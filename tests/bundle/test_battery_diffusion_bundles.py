"""Hostile diffusion bundles given to `patch2loc predict --model`: a fold's settings out of range
(timesteps 1e9, width 4096, 5,000 blocks, 1e6 noise octaves, test steps 0 or text, rescale, patch
size, a seed of 2**80) in a bundle whose manifest matches, beside the clean control. Each case runs
predict in a child process (tests/helpers/hostile_child.py's judge). Slow: `make test-hostile`."""

from __future__ import annotations

import io
import shutil

import pytest

from tests.helpers.hostile_child_fixture import Case

pytestmark = pytest.mark.hostile
CLI = ["-m", "patch2loc.cli"]


# ---------------------------------------------------------------- diffusion bundles


def _diffusion_case(method: str, **config):
    def build(fix, folder):
        import torch
        from tests.helpers.bundle import rewrite

        scan, bundle = fix.run[1], fix.bundle(method)
        mine = folder / "in" / bundle.name
        shutil.copy(bundle, mine)

        def change(members):
            for name in [n for n in members if n.startswith("folds/")]:
                ckpt = torch.load(io.BytesIO(members[name]), weights_only=True)
                ckpt["config"].update(config)
                buffer = io.BytesIO()
                torch.save(ckpt, buffer)
                members[name] = buffer.getvalue()

        if config:
            rewrite(mine, change, rehash=True)  # the manifest matches: the reader must catch the value
        return [*CLI, "predict", "--model", str(mine), "--image", str(scan.image), "--mask", str(scan.mask),
                "--out", str(folder / "out" / "heat.nii.gz"), "--device", "cpu", "--amp", "none", "--quiet"]  # fmt: skip

    return build


CASES = [
    Case("diffusion_clean_control", "diffusion", _diffusion_case("DDPM"), expect=0),
    Case("diffusion_timesteps_1e9", "diffusion", _diffusion_case("DDPM", timesteps=10**9), needle="timesteps"),
    Case("diffusion_width_4096", "diffusion", _diffusion_case("DDPM", width=4096), needle="width"),
    Case("diffusion_blocks_5000", "diffusion", _diffusion_case("DDPM", blocks=5000), needle="blocks"),
    Case("diffusion_octaves_1e6", "diffusion", _diffusion_case("DDPM", noise_octaves=10**6), needle="octaves"),
    Case("diffusion_test_steps_0", "diffusion", _diffusion_case("DDPM", test_steps=[0]), needle="test_steps"),
    Case("diffusion_test_steps_text", "diffusion", _diffusion_case("DDPM", test_steps=["500"]), needle="test_steps"),
    Case("diffusion_rescale_1000", "diffusion", _diffusion_case("DDPM", rescale=1000), needle="rescale"),
    Case("diffusion_rescale_0", "diffusion", _diffusion_case("DDPM", rescale=0), needle="rescale"),
    Case("diffusion_rescale_0.5", "diffusion", _diffusion_case("DDPM", rescale=0.5), needle="rescale"),
    Case("diffusion_patch_size_0", "diffusion", _diffusion_case("pDDPM", patch_size=0), needle="patch_size"),
    Case("diffusion_patch_size_1", "diffusion", _diffusion_case("pDDPM", patch_size=1), needle="patch_size"),
    Case("diffusion_seed_2**80", "diffusion", _diffusion_case("DDPM", seed=2**80), needle="seed"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_passes(case, hostile_entry):
    """A refusal: exit 2, one line naming the file and the fix, nothing written or left, inputs unchanged, under 1.5 GB."""
    hostile_entry.check(case, CASES, timeout=120.0)
