"""The diffusion models' settings within bounds, before any network is built or any slice scored.

A checkpoint's `config` (a bundle's folds/fold<k>.pt, a run's best.pt) is untrusted: `timesteps`
1e9 made an 8 GB schedule, `width` 4096 or `blocks` 5000 networks of 4-6 GB, `noise_octaves` 1e6
or 1-pixel pDDPM squares ran for hours, `test_steps: [0]` read the schedule's last step (index -1)
and `rescale: 1000` averaged a slice to one pixel, both without a word. `RANGES` (ranges.py's rules)
bounds every setting that builds or scores the network, the one table of them: the workflow holds its
`ddpm:`, `pddpm:` and `cddpm:` blocks to `RULES` at start-up (patch2loc.training.blockbounds), and
config/schema.yaml names these keys without bounds of its own. `check_grid` adds
what depends on the volume's grid; `scoring_bytes` is the memory one batch of slices takes on the
CPU (networks/rebuild.py adds the weights and compares the sum with the memory budget).
"""

from __future__ import annotations

import math

from patch2loc.checks.ranges import OR_NULL, OneOf, check_block
from patch2loc.errors import InputError

MAX_TIMESTEPS = 100_000  # the reference: 1,000
MAX_TEST_STEPS = 16  # reconstructions averaged per slice (cDDPM: 3)
MAX_PASSES = 256  # network passes per slice: test steps x pDDPM's squares (the reference: at most 4)
MAX_ATTENTION = (
    64 * 64
)  # pixels the middle block's self-attention relates (work ~ their square; the reference: 24 x 24)
SLICES_PER_BATCH = 128  # slices per forward pass when scoring (the reference: a whole volume)

# The rules of the settings that build or score the network (ranges.py's format).
RANGES = {
    "width": (int, 1, 1024, None),  # the reference: 128
    "mults": (int, 1, 8, (1, 6)),  # [1, 2, 2]
    "blocks": (int, 1, 8, None),  # 3
    "dropout": (float, 0.0, 1.0, None),
    "timesteps": (int, 2, MAX_TIMESTEPS, None),
    "test_steps": (int, 1, MAX_TIMESTEPS - 1, (1, MAX_TEST_STEPS)),  # and each below timesteps
    "rescale": OneOf((1, 2, 4)),  # 1 mm slices as they are, at 2 mm (the reference) or 4 mm
    "patch_size": (int, 4, 1024, None, OR_NULL),  # pDDPM's squares (48); null: the whole slice
    "encoder": OneOf((None, "resnet18", "resnet34", "resnet50")),  # cDDPM's (resnet50)
    "noise_octaves": (int, 1, 16, None),  # 6; beyond 7 an octave is finer than a pixel
    "noise_persistence": (float, 0.01, 1.0, None),  # 0.8
    "seed": (int, 0, 2**63 - 1, None),  # what torch's generators take
}
RULES = RANGES  # the workflow's blocks (patch2loc.training.blockbounds)
# Written into checkpoints by training (not a config key): the first octave's wavelength in pixels.
RECORDED = {"noise_frequency_px": (float, 0.01, 65536.0, None)}
NEEDED = ("width", "mults", "blocks", "timesteps", "test_steps", "rescale", "noise_octaves", "seed")


def check_settings(values: dict, where, name: str) -> None:
    """Each setting in its range (one line naming `name`.key), test steps inside the schedule."""
    check_block(values, RANGES, name, where)
    steps, total = values.get("test_steps"), values["timesteps"]  # both callers pass full settings
    if steps is not None and any(s >= total for s in steps):
        raise InputError(
            f"{where}: {name}.test_steps {str(steps)[:60]} must each lie below {name}.timesteps {total} "
            f"(steps 1 to {total - 1} of the schedule)."
        )


def check_checkpoint(config: dict, where) -> None:
    """A checkpoint's config: the settings above, present and in range, and its grid's (check_grid)."""
    missing = [k for k in NEEDED if k not in config]
    if missing:
        raise InputError(f"{where}: config has no {', '.join(missing)} (a diffusion checkpoint records them).")
    check_settings(config, where, "config")
    check_block(config, RECORDED, "config", where)
    if config.get("volume_shape") is not None:
        check_grid(config, config["volume_shape"], where, "config")


def model_grid(values: dict, shape) -> tuple[int, int]:
    """The slices' side on the model's grid (`downsample` pads to a multiple of `rescale`)."""
    return math.ceil(shape[0] / values["rescale"]), math.ceil(shape[1] / values["rescale"])


def check_grid(values: dict, shape, where, name: str) -> None:
    """The model's grid holds the UNet's coarsest level and pDDPM's square; the passes are bounded."""
    h, w = model_grid(values, shape)
    coarsest = 2 ** (len(values["mults"]) - 1)
    if min(h, w) < coarsest:
        raise InputError(
            f"{where}: {name}.rescale {values['rescale']} leaves {h} x {w} pixels of the {list(shape)[:2]} "
            f"slices, fewer than the UNet's {len(values['mults'])} levels need ({coarsest}); lower it."
        )
    p = values.get("patch_size")
    if p and p > min(h, w):
        raise InputError(f"{where}: {name}.patch_size {p} is larger than the model grid's {h} x {w} slices.")
    attention = math.ceil(h / coarsest) * math.ceil(w / coarsest)
    if attention > MAX_ATTENTION:
        raise InputError(
            f"{where}: {name}.rescale {values['rescale']} and mults {str(values['mults'])[:40]} leave "
            f"{attention:,} pixels to the UNet's self-attention on the {list(shape)[:2]} slices (at most "
            f"{MAX_ATTENTION:,}; the reference: 576); use more levels or a larger rescale."
        )
    passes = len(values["test_steps"]) * (math.ceil(h / p) * math.ceil(w / p) if p else 1)
    if passes > MAX_PASSES:
        raise InputError(
            f"{where}: {name}.patch_size {p} and test_steps {str(values['test_steps'])[:40]} make {passes:,} "
            f"network passes per slice (at most {MAX_PASSES}; the reference: 1 to 4); use larger squares or "
            "fewer steps."
        )


# Bytes per element (float32) and, per pixel of the model's grid, the tensors beside the UNet's:
# the encoder's features (cDDPM; a ResNet's stem and first stages), the noise and the slices,
# reconstruction, residual and box of `reconstruct`; FIXED: the first pass's own working memory
# (the libraries' workspaces; measured 70-150 MB, docs/diffusion.md).
FLOAT, ENCODER, AROUND, FIXED = 4, 96, 12, 192 * 2**20
WORK = 5  # a residual block's live tensors per pixel, in channels of its widest side (measured: docs/diffusion.md)


def scoring_bytes(values: dict, shape) -> int:
    """The memory one batch of slices takes while the network runs on the CPU: the UNet's skip
    tensors (all held until the way up), its widest block's working tensors and the tensors around
    it (the attention's weights are never all held: torch's CPU kernel works in tiles)."""
    h, w = model_grid(values, shape)
    mults, width, blocks = values["mults"], values["width"], values["blocks"]
    coarsest = 2 ** (len(mults) - 1)
    h, w = math.ceil(h / coarsest) * coarsest, math.ceil(w / coarsest) * coarsest
    pixels = [(h >> level) * (w >> level) for level in range(len(mults))]
    skips = width * pixels[0]
    for level, mult in enumerate(mults):
        skips += blocks * width * mult * pixels[level]
        if level + 1 < len(mults):
            skips += width * mult * pixels[level + 1]
    work = max(WORK * width * max(mults[level : level + 2]) * pixels[level] for level in range(len(mults)))
    middle = width * mults[-1]
    attention = WORK * middle * pixels[-1]
    around = (AROUND + (ENCODER if values.get("encoder") else 0)) * pixels[0]
    slices = min(SLICES_PER_BATCH, int(shape[2]))
    return FIXED + FLOAT * slices * (skips + work + attention + around)
