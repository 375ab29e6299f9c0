"""`--from-run` and `--model`: put a raw native-space scan through a finished run's own chain.

The run folder (results/<run>, paths from patch2loc.layout) supplies the resolved config
(preprocessing settings), the atlas it recorded and the Nyul landmarks of the modality; a bundle
(--model) carries the same files. Everything is located and checked before any compute, so a
missing or bad file is one line, not a failure after minutes of registration: the landmarks
(`check_landmarks`: a small [2, L] array of finite numbers, increasing standard scale; its .npy
header is read before the array, so it cannot claim gigabytes) and the config values the chain
uses (`check_chain_config`: voxel spacing > 0, a target grid within PATCH2LOC_MAX_IMAGE_MB).
"""
from __future__ import annotations

import math
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.claims import regular_file
from patch2loc.errors import InputError
from patch2loc.layout import RunLayout
from patch2loc.limits import check_image_size

NEEDS = "--from-run needs a run folder (results/<run_name>) whose workflow has finished preprocessing and normalisation"


@dataclass
class RunChain:
    run: Path  # the run folder, or the bundle (--model)
    modality: str
    config: dict  # preprocess, normalize, heatmap (the run's resolved config, or the bundle's settings)
    landmarks: Path
    atlas_image: Path
    atlas_mask: Path | None
    given: dict[str, Path]  # what the user's flags name (outputs must never replace them)
    recorded: dict[str, Path]  # files whose checksums say which chain made a scan's outputs

    @classmethod
    def open(cls, run_dir: str | Path, modality: str) -> "RunChain":
        """A run folder's chain; every path from patch2loc.layout (the run records its own atlas)."""
        import yaml

        run = Path(run_dir)
        layout = RunLayout(run)
        resolved, landmarks = Path(layout.config), Path(layout.landmarks(modality))
        atlas, atlas_mask = Path(layout.atlas_image), Path(layout.atlas_mask)
        for needed, what in ((resolved, "the run's config"), (landmarks, f"the run's {modality} landmarks")):
            regular_file(needed, what, f"{NEEDS}.")
        regular_file(atlas, "the run's recorded atlas", f"Run the workflow's record_atlas rule (snakemake {atlas}), "
                     "or copy the atlas the run used there.")
        try:
            cfg = yaml.safe_load(resolved.read_text(encoding="utf-8"))
            missing = [k for k in ("preprocess", "normalize") if k not in cfg]
        except Exception:  # unreadable YAML or not a mapping
            cfg, missing = None, ["(unreadable)"]
        if missing:
            raise InputError(f"{resolved}: not a patch2loc resolved config (missing {missing}). {NEEDS}.")
        check_chain_config(cfg, resolved)
        check_landmarks(landmarks)
        files = {"the run's config": resolved, "the run's landmarks": landmarks, "the run's atlas": atlas,
                 "the run's atlas mask": atlas_mask if atlas_mask.is_file() else None}
        return cls(run, modality, cfg, landmarks, atlas, files["the run's atlas mask"], files, files)

    @classmethod
    def from_bundle(cls, bundle) -> "RunChain":
        """A bundle's chain (bundle.reader.open_bundle has checked every member)."""
        from patch2loc.bundle import members as M

        mask = bundle.member(M.ATLAS_MASK)
        return cls(bundle.source, bundle.settings["modality"], bundle.settings, bundle.member(M.LANDMARKS),
                   bundle.member(M.ATLAS_IMAGE), mask if mask.is_file() else None, {"--model": bundle.source},
                   {"the bundle's manifest": bundle.member(M.MANIFEST)})

    def inputs(self) -> dict[str, Path | None]:
        """Files this chain reads that the user named (outputs must never replace them)."""
        return dict(self.given)

    def prepare(self, image: str | Path, mask: str | Path | None, out_dir: Path, subject: str,
                skull_strip: str | None = None) -> tuple[Path, Path]:
        """Preprocess + normalise into out_dir; returns (normalized image, brain mask), atlas space.
        skull_strip: provided (the mask), hdbet, none (already stripped: brain = image > 0);
        default: provided when a mask is given, else hdbet."""
        from patch2loc.data.layouts import RawScan
        from patch2loc.preprocessing.normalize import normalize_scan
        from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan

        scan = RawScan("new", self.modality, subject, Path(image), None, Path(mask) if mask else None)
        skull_strip = skull_strip or ("provided" if mask else "hdbet")
        pcfg = PreprocessConfig.from_config(self.config["preprocess"], skull_strip=skull_strip)
        preprocess_scan(scan, self.atlas_image, self.atlas_mask, out_dir, pcfg)
        normalized = out_dir / "normalized.nii.gz"
        # As the workflow's normalize_scan rule: Nyul and the percentile on the uncropped atlas-box
        # volume, crop/pad last (the same crop as mask.nii.gz, so the two share a grid).
        normalize_scan(out_dir / "uncropped.nii.gz", out_dir / "uncropped_mask.nii.gz", self.landmarks,
                       normalized, percentile=self.config["normalize"]["percentile"],
                       target_shape=self.config["preprocess"]["target_shape"])
        return normalized, out_dir / "mask.nii.gz"


MAX_LANDMARKS = 1000  # Nyul uses 11 (percentiles 1, 10, ..., 90, 99)
REFIT = "Re-run the workflow's fit_landmarks rule for this run (or restore the file)."


def check_landmarks(path: Path) -> None:
    """The run's Nyul landmarks: .npy [2, L], 2 <= L <= MAX_LANDMARKS, finite, increasing scale."""
    try:
        with open(path, "rb") as f:  # the header first: its shape bounds what np.load allocates
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        if len(shape) != 2 or shape[0] != 2 or not 2 <= shape[1] <= MAX_LANDMARKS or dtype.kind not in "fiu":
            raise ValueError(f"a {dtype} array of shape {shape}, not [2, L] numbers")
        table = np.load(path, allow_pickle=False).astype(np.float64)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a landmarks file ({str(exc)[:120]}). {REFIT}") from None
    if not np.isfinite(table).all() or not np.all(np.diff(table[0]) > 0):
        raise InputError(f"{path}: the landmarks are not finite and increasing ({np.round(table[0], 3).tolist()[:12]}). "
                         f"{REFIT}")


def check_chain_config(cfg: dict, resolved: Path) -> None:
    """The values of the run's config that size or scale the chain's arrays."""
    pre = cfg.get("preprocess") or {}
    try:
        spacing = [float(v) for v in pre.get("spacing", (1.0, 1.0, 1.0))]
        shape = [int(v) for v in pre["target_shape"]]
        percentile = float((cfg.get("normalize") or {}).get("percentile", 98.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{resolved}: preprocess.spacing/target_shape or normalize.percentile unreadable "
                         f"({type(exc).__name__}: {exc}). {NEEDS}.") from None
    if len(spacing) != 3 or not all(math.isfinite(v) and v > 0 for v in spacing):
        raise InputError(f"{resolved}: preprocess.spacing {spacing} must be 3 voxel sizes > 0 (mm). {NEEDS}.")
    if len(shape) != 3 or min(shape) < 1 or not 0 < percentile <= 100:
        raise InputError(f"{resolved}: preprocess.target_shape {shape} or normalize.percentile {percentile} is "
                         f"invalid. {NEEDS}.")
    check_image_size(resolved, shape, 4, "preprocess.target_shape")


def require_hdbet(image: str | Path) -> None:
    """Without --mask the scan is skull-stripped with HD-BET: check it is installed up front."""
    from patch2loc.preprocessing.skullstrip import HDBET_COMMAND

    exe = shlex.split(HDBET_COMMAND)[0]
    if shutil.which(exe) is None:
        raise InputError(f"{image}: no --mask given and HD-BET (`{exe}`) is not installed, so the scan cannot "
                         "be skull-stripped. Pass the scan's brain mask with --mask, or pip install hd-bet.")
