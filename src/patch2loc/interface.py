"""What the module a registry line names (`patch2loc.registry`, `Method.module`) provides, as
`typing.Protocol`s: `MethodModule` for every method, `TrainedModule` for a method with models.
`tests/methods/test_interface.py` holds every registry line's module to them. Pure typing: nothing
here imports a method or torch.

`settings` in `score` is `scoring.ScanSettings` (device, median size, and `options`: the scoring
options of config `heatmap:` or predict's flags, of which the method reads the fields of its
`ScoreOptions`); `block` in `train_from_files` is the method's config block (a dict, turned into
`Settings`), and training writes best.pt, last.pt and loss.csv into out_dir (resuming from its
last.pt), e.g. through the shared harness `training.harness`. A method whose network is rebuilt from
its settings also has `RANGES` (the bounds every checkpoint's config is held to before a network is
built), and its registry line names its bounds module (`Method.bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class NoScoreOptions:
    """The `ScoreOptions` of a method that reads none of the scoring options."""

    @classmethod
    def of(cls, options) -> "NoScoreOptions":
        return cls()


@runtime_checkable
class MethodModule(Protocol):
    """Every method: its raw anomaly map, what scoring holds, its authors' evaluation."""

    ScoreOptions: type  # a dataclass: the scoring options it reads (`NoScoreOptions`: none)
    REFERENCE_PROTOCOL: Any  # its authors' evaluation (scoring.protocol.Protocol), None without one

    def score(self, model, image, mask, settings) -> dict:
        """{"score": float32 [X, Y, Z] raw map (before the core's median filter and mask), ...}; with
        `settings.patch_maps` also the maps of the patch statistics, and "patches", the patches run."""

    def activation_bytes(self, grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
        """What its network holds while scoring a volume of `grid` (predict's memory budget; 0: counted
        when its checkpoint is loaded, or nothing to hold)."""


@runtime_checkable
class TrainedModule(MethodModule, Protocol):
    """A method trained per (modality, fold)."""

    Settings: type  # the dataclass of its config block

    def load(self, checkpoint, device) -> tuple:
        """(model, checkpoint dict), read through `run.checkpoint.read_checkpoint`."""

    def train_from_files(self, train_pairs, val_pairs, block: dict, out_dir, *, modality, threads, progress=True):
        """Train one model on (image, mask) pairs into out_dir."""

    def training_footprint(self, cfg, config: dict, grid, channels: int):
        """`training.train_memory.Footprint`: what one training step holds beside the data."""
