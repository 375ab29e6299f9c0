"""`--from-run` and `--model`: put a raw native-space scan through a finished run's own chain.

The run folder (results/<run>, paths from patch2loc.run.layout) supplies the resolved config
(preprocessing settings), the atlas it recorded and the Nyul landmarks of the modality; a bundle
(--model) carries the same files. Everything is located and checked before any compute, so a
missing or bad file is one line, not a failure after minutes of registration (chainfiles.py:
the landmarks and the config values the chain uses).
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from patch2loc.bundle import members as M
from patch2loc.checks.claims import regular_file
from patch2loc.data.layouts import RawScan
from patch2loc.errors import InputError
from patch2loc.run.layout import RunLayout
from patch2loc.run.chainfiles import NEEDS, check_chain_config, check_landmarks, read_run_config


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
    # a model of several contrasts (config `inputs`): {contrast: its landmarks}, the reference first
    contrast_landmarks: dict[str, Path] = field(default_factory=dict)

    @property
    def contrasts(self) -> tuple[str, ...]:
        """The contrasts a scan of this chain is made of (one: the modality itself)."""
        return tuple(self.contrast_landmarks) or (self.modality,)

    def for_contrast(self, contrast: str) -> "RunChain":
        """The chain of one contrast of a model of several: its own landmarks (each contrast is
        preprocessed and normalised on its own, as the workflow does before stacking)."""
        if len(self.contrasts) == 1:
            return self
        return replace(self, modality=contrast, landmarks=self.contrast_landmarks[contrast], contrast_landmarks={})

    @classmethod
    def open(cls, run_dir: str | Path, modality: str) -> "RunChain":
        """A run folder's chain; every path from patch2loc.run.layout (the run records its own atlas)."""
        from patch2loc.data.inputs import input_contrasts

        run = Path(run_dir)
        layout = RunLayout(run)
        resolved = Path(layout.config)
        atlas, atlas_mask = Path(layout.atlas_image), Path(layout.atlas_mask)
        regular_file(resolved, "the run's config", f"{NEEDS}.")
        contrasts = input_contrasts(read_run_config(resolved, (), NEEDS), modality, f"{resolved}: `inputs`")
        per_contrast = {c: Path(layout.landmarks(c)) for c in contrasts}
        for c, path in per_contrast.items():
            regular_file(path, f"the run's {c} landmarks", f"{NEEDS}.")
            check_landmarks(path)
        landmarks = per_contrast[contrasts[0]]
        regular_file(
            atlas,
            "the run's recorded atlas",
            "Run the workflow's record_atlas rule (with this file as "
            "the snakemake target), or copy the atlas the run used there.",
        )
        cfg = read_run_config(resolved, ("preprocess", "normalize"), NEEDS)
        check_chain_config(cfg, resolved)
        files = {
            "the run's config": resolved,
            "the run's landmarks": landmarks,
            **{f"the run's {c} landmarks": p for c, p in per_contrast.items() if len(per_contrast) > 1},
            "the run's atlas": atlas,
            "the run's atlas mask": atlas_mask if atlas_mask.is_file() else None,
        }
        several = per_contrast if len(per_contrast) > 1 else {}
        return cls(run, modality, cfg, landmarks, atlas, files["the run's atlas mask"], files, files, several)

    @classmethod
    def from_bundle(cls, bundle) -> "RunChain":
        """A bundle's chain (bundle.reader.open_bundle has checked every member)."""
        mask = bundle.member(M.ATLAS_MASK)
        landmarks = bundle.landmarks()
        return cls(
            bundle.source,
            bundle.settings["modality"],
            bundle.settings,
            next(iter(landmarks.values())),
            bundle.member(M.ATLAS_IMAGE),
            mask if mask.is_file() else None,
            {"--model": bundle.source},
            {"the bundle's manifest": bundle.member(M.MANIFEST)},
            landmarks if len(landmarks) > 1 else {},
        )

    def inputs(self) -> dict[str, Path | None]:
        """Files this chain reads that the user named (outputs must never replace them)."""
        return dict(self.given)

    def prepare(
        self, image: str | Path, mask: str | Path | None, out_dir: Path, subject: str, skull_strip: str | None = None
    ) -> tuple[Path, Path]:
        """Preprocess + normalise into out_dir; returns (normalized image, brain mask), atlas space.
        skull_strip: provided (the mask), hdbet, none (already stripped: brain = image > 0);
        default: provided when a mask is given, else hdbet."""
        from patch2loc.preprocessing.normalize import normalize_scan
        from patch2loc.preprocessing.corrections import one_itk_thread
        from patch2loc.preprocessing.pipeline import PreprocessConfig, preprocess_scan

        scan = RawScan("new", self.modality, subject, Path(image), None, Path(mask) if mask else None)
        skull_strip = skull_strip or ("provided" if mask else "hdbet")
        pcfg = PreprocessConfig.from_config(self.config["preprocess"], skull_strip=skull_strip)
        with one_itk_thread():  # as the workflow's preprocessing rule: a run and its bundle, the same bytes
            preprocess_scan(scan, self.atlas_image, self.atlas_mask, out_dir, pcfg)
        normalized = out_dir / "normalized.nii.gz"
        # As the workflow's normalize_scan rule: Nyul and the percentile on the uncropped atlas-box
        # volume, crop/pad last (the same crop as mask.nii.gz, so the two share a grid).
        normalize_scan(
            out_dir / "uncropped.nii.gz",
            out_dir / "uncropped_mask.nii.gz",
            self.landmarks,
            normalized,
            percentile=self.config["normalize"]["percentile"],
            target_shape=self.config["preprocess"]["target_shape"],
        )
        return normalized, out_dir / "mask.nii.gz"


def require_hdbet(image: str | Path) -> None:
    """Without --mask the scan is skull-stripped with HD-BET: check it is installed up front."""
    from patch2loc.preprocessing.skullstrip import HDBET_COMMAND

    exe = shlex.split(HDBET_COMMAND)[0]
    if shutil.which(exe) is None:
        raise InputError(
            f"{image}: no --mask given and HD-BET (`{exe}`) is not installed, so the scan cannot "
            "be skull-stripped. Pass the scan's brain mask with --mask, or pip install hd-bet."
        )
