"""The SRI24 T1 brain template is found by name, whichever layout the atlas zip unpacks to."""

from __future__ import annotations

import zipfile

import nibabel as nib
import numpy as np
import pytest

from patch2loc.data.unpack import extract
from patch2loc.data.sri24 import find_template
from patch2loc.errors import InputError
from patch2loc.preprocessing.atlas import write_atlas_files
from rehearsals.real.fixtures import SRI24_LAYOUTS, build_sri24
from rehearsals.real.scans import Plan

NAMES = ("T1.nii", "T1_brain.nii", "T2.nii", "T2_brain.nii", "PD_brain.nii")


def _zip(path, folder, names=NAMES, extra=()):
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(f"{folder}/{name}" if folder else name, name)
        for member in extra:
            zf.writestr(member, "junk")
    return path


@pytest.mark.parametrize("folder", ["templates", "sri24_spm8/templates", "SRI24/sri24_spm8/templates"])
def test_t1_brain_is_found_in_any_layout(tmp_path, folder):
    archive = _zip(tmp_path / "sri24_spm8.zip", folder, extra=["__MACOSX/templates/._T1_brain.nii"])
    extract(archive, tmp_path / "SRI24")
    (tmp_path / "SRI24" / "T1_brain.nii.gz").write_bytes(b"the prepared atlas of an earlier run")
    found = find_template(tmp_path / "SRI24")
    assert found == tmp_path / "SRI24" / folder / "T1_brain.nii" and found.read_text() == "T1_brain.nii"


def test_no_template_or_two_are_one_line_each(tmp_path):
    extract(_zip(tmp_path / "a.zip", "templates", names=("T1.nii", "T2_brain.nii")), tmp_path / "A")
    with pytest.raises(InputError) as err:
        find_template(tmp_path / "A")
    assert "\n" not in str(err.value) and "no T1_brain.nii" in str(err.value) and "templates/T1.nii" in str(err.value)
    extract(_zip(tmp_path / "b.zip", "templates"), tmp_path / "B")
    extract(_zip(tmp_path / "c.zip", "sri24_spm8/templates"), tmp_path / "B" / "copy")
    with pytest.raises(InputError, match="2 files named T1_brain.nii"):
        find_template(tmp_path / "B")


def test_rehearsal_fixture_gives_the_same_atlas_from_both_layouts(tmp_path):
    served = tmp_path / "served"
    build_sri24(served, Plan(render_spacing=6.0, voxel_scale=4.0))
    atlases = []
    for name, folder in SRI24_LAYOUTS.items():
        unpacked = tmp_path / folder.replace("/", "_")
        extract(served / name, unpacked)
        assert sorted(p.name for p in (unpacked / folder).iterdir()) == ["T1.nii", "T1_brain.nii", "T2_brain.nii"]
        image, mask = unpacked / "T1_brain.nii.gz", unpacked / "brain_mask.nii.gz"
        write_atlas_files(find_template(unpacked), image, mask)
        atlases.append([np.asanyarray(nib.load(p).dataobj) for p in (image, mask)])
    (a_image, a_mask), (b_image, b_mask) = atlases
    assert np.array_equal(a_image, b_image) and np.array_equal(a_mask, b_mask)
    assert 0 < a_mask.mean() < 1  # T1_brain, not the T1.nii decoy (a head: no zero background)


def test_a_crafted_archive_with_a_huge_template_is_refused_from_its_header(tmp_path):
    """rule prepare_sri24_atlas on an unpacked archive whose templates/T1_brain.nii is 640 MB of float32 (a
    sparse file): before, read whole (3.1 GB); now refused from its header in one line, exit 2, nothing
    written. The child's address space is capped at 3 GB, so reading it fails the test instead."""
    import nibabel as nib
    import numpy as np

    from tests.helpers.scripts import one_line_refusal, run_script

    folder = tmp_path / "SRI24"
    template = folder / "sri24_spm8" / "templates" / "T1_brain.nii"
    template.parent.mkdir(parents=True)
    header = nib.Nifti1Header()
    header.set_data_shape((640, 512, 512))
    header.set_data_dtype(np.float32)
    with open(template, "wb") as f:
        f.write(header.binaryblock + b"\0" * 4)  # vox_offset 352
        f.truncate(352 + 640 * 512 * 512 * 4)
    log, out = tmp_path / "atlas.log", tmp_path / "atlas"
    proc = run_script(
        "prepare_atlas.py", log, address_gb=3, rule="prepare_sri24_atlas", params={"folder": str(folder)},
        output={"image": str(out / "T1_brain.nii.gz"), "mask": str(out / "brain_mask.nii.gz")},
    )  # fmt: skip
    assert "T1_brain.nii: an atlas template of 167,772,160 voxels (640 MB" in one_line_refusal(
        proc, log, "prepare_sri24_atlas"
    )
    assert not out.exists()
