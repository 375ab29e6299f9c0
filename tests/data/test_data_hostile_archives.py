"""Hostile archives: the SRI24 zip, the IXI tarballs (rule extract) and HD-BET's zip are
unpacked only within budgets on the members' count, each member's size and the total, judged from
the archive's headers before anything is written (the logic bundles use: patch2loc.checks.archive_budget).
Crafted archives declare sizes without carrying the bytes, so no test writes or reads gigabytes."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from patch2loc.checks.archive_budget import MB, Budget
from patch2loc.data.unpack import DEFAULT, budget_from_config, extract
from patch2loc.errors import InputError

REPO = Path(__file__).resolve().parents[2]
TINY = Budget(members=5, member_bytes=1 * MB, total_bytes=int(1.5 * MB))


def _zip_declaring(path: Path, name: str, declared: int) -> Path:
    """A zip whose one stored member declares `declared` bytes (local header and directory) but
    carries 4: what a truthful 2 GB member's headers say, without 2 GB on the test machine."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(name, b"data")
    data = bytearray(buffer.getvalue())
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<II", data, local + 18, declared, declared)  # compressed, uncompressed size
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<II", data, central + 20, declared, declared)
    path.write_bytes(bytes(data))
    return path


def _tar_declaring(path: Path, name: str, declared: int) -> Path:
    """A tar whose first header declares `declared` bytes; its data never follows."""
    info = tarfile.TarInfo(name)
    info.size = declared
    path.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024)
    return path


def _tar(path: Path, members: dict[str, int]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BytesIO(b"\0" * size))
    return path


def _refused(archive: Path, dest: Path, word: str, budget: Budget = DEFAULT) -> str:
    with pytest.raises(InputError, match=word) as err:
        extract(archive, dest, budget)
    message = str(err.value)
    assert message.startswith(str(archive)) and "\n" not in message and "nothing was extracted" in message
    assert not dest.exists()  # not even the folder: nothing was written
    return message


def test_an_sri24_zip_declaring_a_2gb_member_is_refused_by_the_default_budget(tmp_path):
    """Before: the member was extracted (2 GB written) because nothing compared sizes."""
    archive = _zip_declaring(tmp_path / "sri24_spm8.zip", "templates/T1_brain.nii", 2 << 30)
    message = _refused(archive, tmp_path / "SRI24", r"templates/T1_brain.nii declares 2,048.0 MB")
    assert "max_member_mb" in message


def test_a_tar_header_declaring_a_huge_member_is_refused_before_its_data_is_sought(tmp_path):
    archive = _tar_declaring(tmp_path / "IXI-T1.tar", "IXI002-Guys-0828-T1.nii.gz", 5 << 40)  # 5 TB
    _refused(archive, tmp_path / "IXI-T1", "declares 5,242,880.0 MB")


def test_a_truthful_member_beyond_a_small_budget(tmp_path):
    """A real (2 MB, deflated) member over a 1 MB budget, through the zip path of rule extract."""
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.nii", b"\0" * (2 * MB))
    _refused(archive, tmp_path / "out", "big.nii declares 2.0 MB", TINY)


def test_the_total_and_the_count_are_budgets_too(tmp_path):
    two = _tar(tmp_path / "two.tar", {"a.nii": MB, "b.nii": MB})  # each within 1 MB, 2 MB in all
    _refused(two, tmp_path / "out", "its members declare 2 MB in all", TINY)
    many = _tar(tmp_path / "many.tar", {f"f{i}": 1 for i in range(6)})
    _refused(many, tmp_path / "out", "more than 5 members", TINY)
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as zf:
        for i in range(6):
            zf.writestr(f"f{i}", b"x")
    _refused(tmp_path / "many.zip", tmp_path / "out", "more than 5 members", TINY)


def test_within_budget_it_unpacks_and_marks_completion(tmp_path):
    archive = _tar(tmp_path / "ok.tar", {"IXI-T1/IXI002-Guys-0828-T1.nii.gz": 1000})
    marker = extract(archive, tmp_path / "out", TINY)
    assert marker.exists() and (tmp_path / "out" / "IXI-T1" / "IXI002-Guys-0828-T1.nii.gz").stat().st_size == 1000


def test_the_budget_comes_from_the_config_and_fits_the_real_archives():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    budget = budget_from_config(config["extract"])
    assert budget == DEFAULT == budget_from_config(None)
    # the schema holds no copy of these defaults (tests/static/test_one_default.py)
    # config/datasets.yaml: IXI-T1.tar ~4.5 GB of 581 scans, IXI-T2.tar ~3.9 GB of 578.
    assert budget.total_bytes > 4.5 * 1024 * MB and budget.members > 581
    assert budget.member_bytes < 2048 * MB  # the probe's 2 GB member is refused
    assert budget_from_config({"max_member_mb": 0.5}).member_bytes == MB // 2


def test_bundles_and_archives_share_one_budget_check():
    from patch2loc.bundle import members

    with pytest.raises(InputError, match=r"declares 4,096.0 MB, more than the limit of 1,024.0 MB"):
        members.check_size(Path("b.zip"), "folds/fold0.pt", 4096 * MB)
    with pytest.raises(InputError, match=r"members declare 99,999 MB in all.*nothing was unpacked"):
        members.check_total(Path("b.zip"), {"atlas/image.nii.gz": {"size": 99_999 * MB}})
