"""The BIDS App with crafted datasets, filter files and a second run: a T2w partner whose name is another
subject's (pybids takes the subject from the folder, so sub-03's scan was paired with sub-02's T1w), a
filter naming pybids' query options instead of entities (an SQL traceback or a changed query), and two
participant runs on one OUTPUT_DIR (they raced over its staging and derivatives). Each is one line,
exit 2, nothing written; the demo set, a tiny T1T2 DAE bundle and tests/helpers/bids.py's chain."""

from __future__ import annotations

import json
import shutil

import pytest

from patch2loc.files.staging import folder_lock
from tests.helpers.bids import crop_prepare, demo_t1t2, make_bundle, participant_argv
from tests.helpers.safety import refused

pytest.importorskip("bids", reason="pybids is not installed (pip install 'patch2loc[bids]')")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("pairing")
    return *demo_t1t2(base), make_bundle(base / "t2", "T2")


@pytest.fixture
def raw(made, tmp_path, monkeypatch):
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", crop_prepare)
    copy = tmp_path / "raw"
    shutil.copytree(made[0], copy)
    return copy


def test_a_partner_named_as_another_subject_is_never_paired(made, raw, tmp_path, capsys):
    """sub-02/anat/sub-03_T2w.nii.gz: pybids reads subject 02 from the folder; before, it was scored as
    sub-02's T2w beside sub-02's T1w (exit 0), two subjects mixed in one stack."""
    anat = raw / "sub-02" / "anat"
    (anat / "sub-02_T2w.nii.gz").rename(anat / "sub-03_T2w.nii.gz")
    (anat / "sub-02_T2w.json").unlink(missing_ok=True)
    out = tmp_path / "out"
    line = refused(
        participant_argv(raw, out, made[1], "--participant-label", "02"), "sub-03_T2w.nii.gz", tmp_path, capsys
    )
    assert "not the BIDS name" in line and not out.exists()


@pytest.mark.parametrize(
    "spec, needle",
    [
        ({"t2w": {"regex_search": True, "subject": "["}}, '"t2w.regex_search" is not a BIDS entity'),
        ({"t2w": {"return_type": "id"}}, '"t2w.return_type" is not a BIDS entity'),
        ({"t2w": {"target": "subject"}}, '"t2w.target" is not a BIDS entity'),
        ({"t2w": {"run": 1.5}}, '"t2w.run" must be a label'),
        ({"t2w": {"session": []}}, '"t2w.session" must be a label'),
        ({"T2w": {"session": "1"}, "t2w": {"session": "2"}}, "names one kind of scan twice"),
    ],
)
def test_a_filter_of_pybids_options_or_odd_types_is_one_line(made, raw, tmp_path, capsys, spec, needle):
    """Before: regex_search with an unbalanced pattern ended in sqlite3's OperationalError ("a bug",
    exit 1); return_type and target changed what pybids returned."""
    spec_file = tmp_path / "filter.json"
    spec_file.write_text(json.dumps(spec))
    argv = participant_argv(raw, tmp_path / "out", made[2], "--bids-filter-file", str(spec_file))
    refused(argv, needle, tmp_path, capsys)


def test_a_second_participant_run_on_one_output_dir_is_refused_while_the_first_writes(made, raw, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, "test"):  # what the first run holds while it predicts and publishes
        refused(participant_argv(raw, out, made[2]), "another patch2loc bids run is writing", tmp_path, capsys)
    assert not any(out.iterdir())
