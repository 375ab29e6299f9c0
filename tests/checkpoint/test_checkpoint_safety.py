"""Checkpoints never run code; one whose pickle would
create a file is refused and creates nothing."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.safety import make_case, predict_argv, refused


@pytest.fixture()
def c(tmp_path):
    return make_case(tmp_path / "in")


# ---------------------------------------------------------------- case 2: checkpoints never run code


def test_checkpoint_whose_pickle_creates_a_file_is_refused(c, tmp_path, capsys):
    witness = tmp_path / "created_by_pickle"

    class Payload:
        def __reduce__(self):
            return (open, (str(witness), "w"))

    torch.save({"model": {}, "patch_size": 2, "payload": Payload()}, tmp_path / "in" / "evil.pt")
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "evil.pt"), "refused", tmp_path, capsys
    )
    assert "evil.pt" in line and "io.open" in line
    assert not witness.exists()
