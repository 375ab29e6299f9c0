"""Every folder the package creates files in is tried before the work (files/folders.py): a cache (the demo's
anatomy cache, the transfer check's test data), an output folder (predict --out, train --out, the BIDS App's
OUTPUT_DIR, where the staging temporaries live too) in which nothing can be created, or without room, is one
line naming the folder and why, exit 2, nothing left. A folder under /proc stands for a read-only mount: it
exists, `os.access` tells root it is writable, and nothing can be created in it. Before, the caches ended
in a traceback from tempfile and the outputs failed only after the compute."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.helpers.hostile_round6_files import training_lists
from tests.helpers.safety import make_case, predict_argv, refused
from tests.helpers.safety import train_argv as shared_train_argv

from patch2loc.errors import InputError

NOWHERE = Path("/proc/self/fdinfo")  # a folder where nothing can be created, whoever runs the tests


@pytest.fixture(autouse=True)
def _nowhere_is_unwritable():
    if not NOWHERE.is_dir():
        pytest.skip("no /proc/self/fdinfo here")
    try:
        (NOWHERE / "probe").touch()
    except OSError:
        return
    pytest.skip("files can be created in /proc/self/fdinfo here")


@pytest.mark.parametrize(
    "env, call",
    [
        ("PATCH2LOC_ANATOMY_CACHE", "from patch2loc.synth.anatomies import anatomy_1mm; anatomy_1mm('mrhead')"),
        ("PATCH2LOC_TEST_DATA", "from rehearsals.real import real_scans; real_scans.sdist('qtim-tools')"),
    ],
)
def test_a_cache_folder_where_nothing_can_be_created_is_one_line(env, call):
    """Offline (nothing is fetched), the checkout's code and rehearsals/real/ on the child's path."""
    from tests.synth.test_caches_hostile import CALL, OFFLINE, REPO

    path = os.pathsep.join([str(REPO / "src"), str(REPO)])
    environ = {**os.environ, **OFFLINE, "PYTHONPATH": path, env: str(NOWHERE)}
    code = textwrap.dedent(CALL.format(call=call))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{NOWHERE}: the cache folder ({env}) is not writable (nothing can be created there" in lines[0]


def test_a_cache_folder_without_room_is_one_line(tmp_path, monkeypatch):
    from patch2loc.data.cache import cache_folder

    monkeypatch.setattr("shutil.disk_usage", lambda path: _Usage(0))
    monkeypatch.setenv("PATCH2LOC_ANATOMY_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match=r"cache.*is not writable \(no space left: 0 MB free, at least 128 MB"):
        cache_folder("PATCH2LOC_ANATOMY_CACHE", tmp_path / "default")
    assert list((tmp_path / "cache").iterdir()) == []  # the probe is gone


class _Usage:
    def __init__(self, free):
        self.total, self.used, self.free = free, 0, free


def _no_compute(*args, **kwargs):
    raise AssertionError("the work started before the output folder was tried")


def test_predict_out_where_nothing_can_be_created_fails_before_compute(tmp_path, capsys, monkeypatch):
    c = make_case(tmp_path / "in")
    monkeypatch.setattr("patch2loc.predict.ensemble.ensemble_score", _no_compute)
    line = refused(predict_argv(c, NOWHERE / "h.nii.gz"), "nothing can be created there", tmp_path, capsys)
    assert f"the folder {NOWHERE} is not writable" in line


def test_train_out_where_nothing_can_be_created_fails_before_reading(tmp_path, capsys, monkeypatch):
    data = training_lists(tmp_path / "data")
    monkeypatch.setattr("patch2loc.training.training_data.load_training_data", _no_compute)
    argv = shared_train_argv(data / "train.csv", data / "val.csv", NOWHERE / "run")
    refused(argv, "nothing can be created there", tmp_path, capsys)


def test_bids_output_dir_where_nothing_can_be_created_is_one_line(tmp_path, capsys):
    pytest.importorskip("bids")
    from tests.helpers.bids import SPACING, make_bundle

    from patch2loc.bids.demo import write_demo_bids

    raw = write_demo_bids(tmp_path / "raw", spacing=SPACING)
    bundle = make_bundle(tmp_path / "model", "T1")
    argv = ["bids", str(raw), str(NOWHERE / "p2l"), "participant", "--model", str(bundle), "--device", "cpu"]
    refused([*argv, "--quiet"], "nothing can be created there", tmp_path, capsys)


def test_a_folder_without_room_is_refused_for_an_output(tmp_path, capsys, monkeypatch):
    c = make_case(tmp_path / "in")
    monkeypatch.setattr("patch2loc.predict.ensemble.ensemble_score", _no_compute)
    monkeypatch.setattr("shutil.disk_usage", lambda path: _Usage(1 << 20))
    refused(predict_argv(c, tmp_path / "out" / "h.nii.gz"), "no space left: 1 MB free", tmp_path, capsys)
