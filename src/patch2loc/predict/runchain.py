"""`--from-run`: put a raw native-space scan through a finished run's own chain.

The run folder (results/<run>) supplies the resolved config (atlas, preprocessing settings) and
the Nyul landmarks of the modality. Everything is located and checked before any compute, so a
missing file is one line, not a failure after minutes of registration.
"""
from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from patch2loc.errors import InputError

NEEDS = "--from-run needs a run folder (results/<run_name>) whose workflow has finished preprocessing and normalisation"


@dataclass
class RunChain:
    run: Path
    modality: str
    config: dict
    landmarks: Path
    atlas_image: Path
    atlas_mask: Path | None

    @classmethod
    def open(cls, run_dir: str | Path, modality: str) -> "RunChain":
        import yaml

        run = Path(run_dir)
        resolved, landmarks = run / "config.resolved.yaml", run / "landmarks" / f"{modality}.npy"
        for needed in (resolved, landmarks):
            if not needed.is_file():
                raise InputError(f"{needed}: not found. {NEEDS}.")
        try:
            cfg = yaml.safe_load(resolved.read_text(encoding="utf-8"))
            missing = [k for k in ("preprocess", "normalize", "atlas") if k not in cfg]
        except Exception:  # unreadable YAML or not a mapping
            cfg, missing = None, ["(unreadable)"]
        if missing:
            raise InputError(f"{resolved}: not a patch2loc resolved config (missing {missing}). {NEEDS}.")
        atlas_mask = cfg["atlas"].get("mask")
        return cls(run, modality, cfg, landmarks, _locate(run, resolved, "atlas.image", cfg["atlas"]["image"]),
                   None if atlas_mask is None else _locate(run, resolved, "atlas.mask", atlas_mask))

    def inputs(self) -> dict[str, Path | None]:
        """Files this chain reads (outputs must never replace them)."""
        return {"the run's config": self.run / "config.resolved.yaml", "the run's landmarks": self.landmarks,
                "the run's atlas": self.atlas_image, "the run's atlas mask": self.atlas_mask}

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


def _locate(run: Path, resolved: Path, key: str, path: str) -> Path:
    """Find a file the run's config names relative to the workflow folder it ran in.

    Tried in order: an absolute path; the workflow folder (results/<run> lives in it, so two
    levels up); inside the run folder itself (a copied run that carries its atlas, e.g. the
    demo's results/demo/atlas/); <run>/atlas/<file name>.
    """
    given = Path(path)
    if given.is_absolute():
        candidates = [given]
    else:
        workdir = run.resolve().parents[1]
        candidates = [workdir / given]
        parts = given.parts
        if len(parts) > 2 and parts[0] == "results":
            candidates.append(run / Path(*parts[2:]))
        candidates.append(run / "atlas" / given.name)
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            return candidate
    raise InputError(f"{run}: the run's {key} ({path} in {resolved.name}) is not at "
                     f"{' nor '.join(str(c) for c in dict.fromkeys(candidates))}. If you copied the run "
                     f"folder, copy that file to {run / 'atlas' / given.name}.")


def require_hdbet(image: str | Path) -> None:
    """Without --mask the scan is skull-stripped with HD-BET: check it is installed up front."""
    from patch2loc.preprocessing.pipeline import PreprocessConfig

    exe = shlex.split(PreprocessConfig().hdbet_command)[0]
    if shutil.which(exe) is None:
        raise InputError(f"{image}: no --mask given and HD-BET (`{exe}`) is not installed, so the scan cannot "
                         "be skull-stripped. Pass the scan's brain mask with --mask, or pip install hd-bet.")


def preprocessed_folder(out: str | Path) -> Path:
    """`<out without .nii.gz/.nii>_preprocessed/` beside the heatmap (only the NIfTI suffix is cut,
    so `sub.01.nii.gz` and `sub.02.nii.gz` get different folders)."""
    out = Path(out)
    name = out.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return out.with_name(name + "_preprocessed")
