"""Memory and disk are budgeted from what files declare, before anything is read.
Here the scan's and the mask's headers; a bundle's settings, aliases and members are in
bundle/test_bundle_budgets_hostile.py.

Each case asserts exit 2, one stderr line naming the file and the setting, no traceback and the
test folder unchanged (nothing in --out, nothing left in the temporary folder), once in this
process and once (slow) in a child process whose peak memory (ru_maxrss) must stay under 1.5 GB
and under a good tiny predict's peak + 512 MB (helpers.hostile.refused_in_child). Before, the
same files passed 6 GB (the job), read 3.5 GB (the mask), passed 8 GB or crashed in SimpleITK
(a bundle's spacing), passed 4 GB in export (YAML aliases) and inflated 3 GB into TMPDIR (members).
"""

# ruff: noqa: F811  (pytest: the fixtures imported from tests/helpers/budget_fixtures.py are parameters here)
from __future__ import annotations


import nibabel as nib
import numpy as np
import pytest
from tests.helpers.budget_cases import cube_file
from tests.helpers.fake_chain import fake_run
from tests.helpers.hostile import nifti_header, write_nii_gz
from tests.helpers.safety import predict_argv, refused

from patch2loc.checks.claims import nifti_claims
from patch2loc.predict.budget import estimate


from tests.helpers.budget_fixtures import MODES, c, refuse  # noqa: F401  (fixtures)


# ---------------------------------------------------------------- the whole job's memory


@pytest.mark.parametrize("child", MODES)
def test_a_scan_whose_job_exceeds_the_memory_budget_is_refused_from_its_header(c, tmp_path, refuse, child):
    run = fake_run(tmp_path / "wf")
    cube = cube_file(tmp_path / "in" / "cube.nii.gz")
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz", "--skull-strip", "none", image=cube, mask=False, from_run=run)
    line = refuse(child, argv, "PATCH2LOC_MEMORY_BUDGET_MB")
    assert str(cube) in line and "640 x 640 x 640" in line and "memory budget of 4,096 MB" in line
    assert "needs about" in line and "nothing was read" in line


def test_the_budget_is_configurable_and_sized_for_real_scans(c, tmp_path, capsys, monkeypatch):
    """Raised, the same header passes the budget (and the next check speaks); the paper's scans
    (256 x 256 x 180 at 1 mm, SRI24 at 1 mm, 192 x 192 x 100) fit the default with room to spare."""
    cube = cube_file(tmp_path / "in" / "cube.nii.gz")
    monkeypatch.setenv("PATCH2LOC_MEMORY_BUDGET_MB", "1")
    refused(predict_argv(c, tmp_path / "out" / "h.nii.gz"), "memory budget of 1 MB", tmp_path, capsys)
    monkeypatch.setenv("PATCH2LOC_MEMORY_BUDGET_MB", "100000")  # past the budget: the mask's grid is checked next
    refused(predict_argv(c, tmp_path / "out" / "h.nii.gz", image=cube), "brain mask shape", tmp_path, capsys)
    write_nii_gz(tmp_path / "sri24.nii.gz", nifti_header((240, 240, 155), np.float32))
    write_nii_gz(tmp_path / "t1.nii.gz", nifti_header((256, 256, 180), np.int16))
    stages = estimate(
        nifti_claims(tmp_path / "t1.nii.gz"),
        method="Patch2Loc",
        batch_size=8192,
        stride=1,
        chain_grid=((1.0, 1.0, 1.0), (192, 192, 100), nifti_claims(tmp_path / "sri24.nii.gz")),
        patch_size=24,
        model_bytes=5 * 2 * 45 << 20,
        html=True,
    )
    assert max(stages.values()) < 2 << 30, stages


def test_the_scoring_stage_counts_the_methods_own_activations(tmp_path):
    """Each method says what its network holds while scoring (activation_bytes in its module); a
    method without one (Thresh) adds nothing to the maps' own arrays."""
    from patch2loc.predict.budget import LOOP, SCORE

    write_nii_gz(tmp_path / "grid.nii.gz", nifti_header((192, 192, 100), np.float32))
    n = 192 * 192 * 100

    def scoring(method):
        return estimate(
            nifti_claims(tmp_path / "grid.nii.gz"),
            chain_grid=None,
            method=method,
            batch_size=8192,
            stride=1,
            patch_size=24,
            model_bytes=0,
            html=False,
        )["scoring"]

    assert scoring("Patch2Loc") == LOOP * n + 8192 * 24**2 * 128  # a batch of patches, ResNet-18's first layers
    assert scoring("DAE") == LOOP * n + 16 * 192 * 192 * 1600  # a batch of 16 slices through the UNet
    assert scoring("Thresh") == SCORE * n


# ---------------------------------------------------------------- the mask's grid from its header


@pytest.mark.parametrize("child", MODES)
def test_a_mask_on_another_grid_is_refused_before_the_image_is_read(c, tmp_path, refuse, child):
    cube = cube_file(tmp_path / "in" / "cube.nii.gz")
    nib.save(nib.Nifti1Image(np.ones((64, 64, 40), np.uint8), np.eye(4)), tmp_path / "in" / "mask64.nii.gz")
    line = refuse(
        child,
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=cube, mask=tmp_path / "in" / "mask64.nii.gz"),
        "brain mask shape",
    )
    assert "(64, 64, 40) differs" in line and "(640, 640, 640)" in line and "nothing was read" in line
