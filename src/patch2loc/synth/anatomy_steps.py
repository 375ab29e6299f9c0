"""The two slow steps of deriving a fetched anatomy source, with their results shipped in SHIPPED:
ROBEX's brain mask of mrhead (about 2 minutes on one core) and the 1 mm affine registration of each
source onto the MNI152 brain (about 1.5 minutes each).

Each result is filed under a key of everything it depends on: the input voxels and grid, the step's
code and settings, and the tool's version. A step whose key is in the folder takes the filed result,
which is what the step gives on one thread (ROBEX and SimpleITK are deterministic there); any other
key runs the step. So a first demo and a fresh CI derive in a minute instead of six, and a change to
the inputs, the code or a tool falls back to running the step. `python tools/ship_anatomy_steps.py`
runs every step of every source and files exactly their results.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).resolve().parent / "shipped_steps"


@dataclass
class Steps:
    """Where filed results are read (None: never) and fresh ones written (None: nowhere), whether a step
    not filed may run (`run=False`: it is an error, the tests' check that the shipped results are
    current), and which files a derivation used or wrote (`files`, for the shipping command and its test)."""

    read: Path | None = SHIPPED
    write: Path | None = None
    run: bool = True
    files: list[Path] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)

    def _known(self, name: str) -> Path | None:
        path = self.read / name if self.read else None
        if path is not None and path.is_file():
            self.files.append(path)
            return path
        return None

    def _ran(self, step: str, name: str) -> None:
        if not self.run:
            raise RuntimeError(f"{step}: {name} is not in {self.read}; python tools/ship_anatomy_steps.py files it")
        self.ran.append(step)

    def _filed(self, name: str, write) -> None:
        if self.write:
            self.write.mkdir(parents=True, exist_ok=True)
            write(self.write / name)
            self.files.append(self.write / name)

    def robex(self, image: Path, out_mask: Path) -> Path:
        """ROBEX's brain mask of `image` at `out_mask`, from the folder when its key is there."""
        from patch2loc.preprocessing.skullstrip import robex_key, run_robex

        name = f"robex-{robex_key(image)}.nii.gz"
        known = self._known(name)
        if known:
            shutil.copyfile(known, out_mask)
            return out_mask
        self._ran("robex", name)
        run_robex(image, out_mask)
        self._filed(name, lambda path: shutil.copyfile(out_mask, path))
        return out_mask

    def register(self, fixed, moving):
        """`corrections.register_affine(fixed, moving, PreprocessConfig())`, from the folder when its key is there."""
        import SimpleITK as sitk

        from patch2loc.preprocessing import corrections
        from patch2loc.preprocessing.pipeline import PreprocessConfig

        cfg = PreprocessConfig()
        name = f"registration-{registration_key(fixed, moving, cfg)}.tfm"
        known = self._known(name)
        if known:
            return sitk.ReadTransform(str(known))  # ITK writes the parameters in full (17 digits)
        self._ran("registration", name)
        transform, _ = corrections.register_affine(fixed, moving, cfg)
        self._filed(name, lambda path: sitk.WriteTransform(transform, str(path)))
        return transform


def registration_key(fixed, moving, cfg) -> str:
    """The images' voxels and grids, the registration's settings and code, and SimpleITK's version."""
    import SimpleITK as sitk

    from patch2loc.preprocessing import corrections

    digest = hashlib.sha256()
    for image in (fixed, moving):
        digest.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).tobytes())
        digest.update(repr((image.GetSpacing(), image.GetOrigin(), image.GetDirection())).encode())
    settings = {k: getattr(cfg, k) for k in sorted(vars(cfg)) if k.startswith("reg_")}
    digest.update(repr((settings, cfg.seed)).encode())
    digest.update(Path(corrections.__file__).read_bytes())
    digest.update(sitk.Version_VersionString().encode())
    return digest.hexdigest()
