"""--device names, CUDA without a GPU and a CUDA index
beyond the GPUs are refused before compute, in predict and train, with one line that says what is missing."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.safety import predict_argv, refused, train_on


# ---------------------------------------------------------------- case 5: devices


def _argv(command: str, c, tmp_path, device: str) -> list[str]:
    """predict of case `c`, or train on it, with --device `device`."""
    if command == "predict":
        argv = predict_argv(c, tmp_path / "out" / "h.nii.gz")
        argv[argv.index("--device") + 1] = device
        return argv
    (tmp_path / "in" / "l.csv").write_text(f"image,mask\n{c['image']},{c['mask']}\n")
    return train_on(tmp_path / "in" / "l.csv", tmp_path / "run", "--device", device)


@pytest.mark.parametrize("command", ["predict", "train"])
def test_unknown_device_name(c, tmp_path, capsys, command):
    line = refused(_argv(command, c, tmp_path, "gpu"), "'gpu': unknown device", tmp_path, capsys)
    assert "auto, cpu, cuda or cuda:N" in line


@pytest.mark.parametrize("command", ["predict", "train"])
def test_cuda_without_a_gpu_says_what_is_missing(c, tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = refused(_argv(command, c, tmp_path, "cuda"), "--device cuda: no CUDA GPU available", tmp_path, capsys)
    assert "checkpoint" not in line and "--device cpu" in line


def test_cuda_index_beyond_the_gpus(c, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz")
    argv[argv.index("--device") + 1] = "cuda:3"
    refused(argv, "has 1 CUDA GPU(s)", tmp_path, capsys)
