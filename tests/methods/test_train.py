"""Training loop: determinism, resume after an interrupt, checkpoint contents, file loading."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import torch

import patch2loc.training.harness as harness_mod
import patch2loc.methods.patch2loc.train as train_mod
from patch2loc.files.io import save_volume
from patch2loc.errors import InputError
from patch2loc.methods.patch2loc.model import load_model
from patch2loc.training.joblimit import DEADLINE_ENV, JobTimeLimit
from patch2loc.methods.patch2loc.train import TrainConfig, train, train_from_files

SHAPE = (32, 32, 8)


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE], indexing="ij")
    masks = np.broadcast_to(x**2 + y**2 < 0.8, (n, *SHAPE)).copy()
    images = (rng.random((n, *SHAPE)) + x + 2 * y).astype(np.float32)
    return images, masks


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=6, patches_per_step=16, val_every=2, val_batches=1, device="cpu", seed=11, num_threads=1)
    return TrainConfig(**{**base, **kw})


def _run(out_dir, **kw):
    tr, trm = _data(4, 0)
    va, vam = _data(2, 1)
    return train(tr, trm, va, vam, _cfg(**kw), out_dir, progress=False)


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    summary = _run(out)
    return out, summary


def test_same_seed_gives_identical_runs(reference_run, tmp_path):
    ref, _ = reference_run
    _run(tmp_path)
    _assert_same_weights(_weights(ref / "last.pt"), _weights(tmp_path / "last.pt"))
    assert _csv(ref / "loss.csv") == _csv(tmp_path / "loss.csv")
    # A different seed gives different weights (the comparison above can fail).
    other = tmp_path / "other"
    _run(other, seed=12)
    a, b = _weights(ref / "last.pt"), _weights(other / "last.pt")
    assert any(not torch.equal(a[k], b[k]) for k in a)


def _crash_at_third_validation(monkeypatch):
    """Make training die with Ctrl-C at its third validation (step 6); returns the real evaluate."""
    real_evaluate = train_mod.evaluate
    calls = {"n": 0}

    def crashing_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate", crashing_evaluate)
    return real_evaluate


def test_resume_after_interrupt_is_bit_identical(reference_run, tmp_path, monkeypatch):
    ref, _ = reference_run
    real_evaluate = _crash_at_third_validation(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 4
    assert not list(tmp_path.glob(".*"))  # no half-written temporary files left
    monkeypatch.setattr(train_mod, "evaluate", real_evaluate)

    summary = _run(tmp_path)
    assert summary["step"] == 6
    _assert_same_weights(_weights(ref / "last.pt"), _weights(tmp_path / "last.pt"))
    _assert_same_weights(_weights(ref / "best.pt"), _weights(tmp_path / "best.pt"))
    assert _csv(ref / "loss.csv") == _csv(tmp_path / "loss.csv")


def test_resume_with_other_settings_is_refused(reference_run, tmp_path):
    ref, _ = reference_run
    (tmp_path / "last.pt").write_bytes((ref / "last.pt").read_bytes())
    with pytest.raises(InputError, match="lr"):
        _run(tmp_path, lr=1e-3)


def test_checkpoint_contents_and_loss_csv(reference_run):
    ref, summary = reference_run
    ckpt = torch.load(ref / "last.pt", weights_only=False)
    assert {
        "model",
        "patch_size",
        "step",
        "config",
        "versions",
        "subjects",
        "best_val_loss",
        "optimizer",
        "rng",
    } <= set(ckpt)
    assert ckpt["patch_size"] == 4 and ckpt["step"] == 6
    assert ckpt["config"]["patches_per_step"] == 16 and ckpt["config"]["patch_size"] == 4
    assert ckpt["config"]["volume_shape"] == list(SHAPE)
    assert ckpt["subjects"] == {"train": [f"train_{i:03d}" for i in range(4)], "val": ["val_000", "val_001"]}
    assert {"torch_cpu", "torch_cuda", "numpy", "python", "sampler"} <= set(ckpt["rng"])
    assert "torch" in ckpt["versions"]
    rows = _csv(ref / "loss.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert list(rows[0]) == ["step", "train_loss", "val_loss", "val_error", "centre_error"]
    best_row = min(rows, key=lambda r: float(r["val_loss"]))
    assert ckpt["best_val_loss"] == pytest.approx(float(best_row["val_loss"]))
    best = torch.load(ref / "best.pt", weights_only=False)
    assert best["step"] == int(best_row["step"]) == summary["best_step"]
    # centre_error is the same fixed validation set every time
    assert len({r["centre_error"] for r in rows}) == 1
    model, _ = load_model(str(ref / "best.pt"))
    mean, logvar = model(torch.zeros(3, 1, 4, 4), torch.tensor([10.0, 50.0, 90.0]))
    assert mean.shape == logvar.shape == (3, 2)


def test_train_from_files_records_ids_and_checks_shapes(tmp_path):
    images, masks = _data(3, 2)
    pairs = []
    for i in range(3):
        d = tmp_path / "data" / f"sub{i}"
        save_volume(images[i], d / "image.nii.gz")
        save_volume(masks[i].astype(np.uint8), d / "mask.nii.gz")
        pairs.append((d / "image.nii.gz", d / "mask.nii.gz"))
    summary = train_from_files(pairs[:2], pairs[2:], _cfg(steps=1, val_every=1), tmp_path / "run", progress=False)
    assert summary["step"] == 1
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert ckpt["subjects"] == {"train": ["sub0", "sub1"], "val": ["sub2"]}

    bad = tmp_path / "data" / "bad"
    save_volume(images[0][:, :, :4], bad / "image.nii.gz")
    save_volume(masks[0][:, :, :4].astype(np.uint8), bad / "mask.nii.gz")
    with pytest.raises(InputError, match="bad/image.nii.gz"):
        train_from_files(
            pairs[:2] + [(bad / "image.nii.gz", bad / "mask.nii.gz")],
            pairs[2:],
            _cfg(steps=1),
            tmp_path / "run2",
            progress=False,
        )


def test_mixed_precision_and_config_checks(tmp_path):
    summary = _run(tmp_path, amp="bf16", steps=2, val_every=2)
    assert np.isfinite(summary["last"]["val_loss"]) and summary["last"]["step"] == 2
    assert torch.load(tmp_path / "last.pt", weights_only=False)["config"]["amp"] == "bf16"
    with pytest.raises(InputError, match="amp"):
        TrainConfig(amp="fp8")
    with pytest.raises(InputError, match="unknown key"):
        TrainConfig.from_dict({"steps": 3, "learning_rate": 0.1})


def test_checkpoint_every_writes_last_less_often_and_still_resumes_identically(reference_run, tmp_path, monkeypatch):
    """checkpoint_every=4 (val_every=2): last.pt at step 4 and at the end only; a run killed at
    step 6 of 8 resumes from step 4 and ends like an uninterrupted one."""
    saved = []
    real_save = harness_mod.save_checkpoint

    def recording_save(path, ckpt):
        saved.append((path.name, ckpt["step"]))
        real_save(path, ckpt)

    monkeypatch.setattr(harness_mod, "save_checkpoint", recording_save)
    full = tmp_path / "full"
    _run(full, steps=8, checkpoint_every=4)
    assert [s for name, s in saved if name == "last.pt"] == [4, 8]

    real_evaluate = _crash_at_third_validation(monkeypatch)
    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):
        _run(part, steps=8, checkpoint_every=4)
    assert torch.load(part / "last.pt", weights_only=False)["step"] == 4
    monkeypatch.setattr(train_mod, "evaluate", real_evaluate)
    _run(part, steps=8, checkpoint_every=4)
    _assert_same_weights(_weights(full / "last.pt"), _weights(part / "last.pt"))
    assert _csv(full / "loss.csv") == _csv(part / "loss.csv")
    with pytest.raises(InputError, match="checkpoint_every"):
        _cfg(checkpoint_every=3)


def test_learning_rate_schedules():
    """constant: the paper's rate at every step; warm-up: linear up to lr; cosine: from lr to 0."""
    from patch2loc.training.harness import scheduled_lr

    assert [scheduled_lr(0.01, s, 10) for s in (0, 5, 9)] == [0.01, 0.01, 0.01]
    assert [scheduled_lr(0.01, s, 10, "constant", 4) for s in (0, 1, 3, 4)] == pytest.approx(
        [0.0025, 0.005, 0.01, 0.01]
    )
    cosine = [scheduled_lr(0.01, s, 10, "cosine", 2) for s in range(10)]
    assert cosine[:3] == pytest.approx([0.005, 0.01, 0.01]) and cosine[-1] < 0.0005
    assert all(a >= b for a, b in zip(cosine[2:], cosine[3:]))  # decays monotonically after the warm-up
    with pytest.raises(InputError, match="lr_schedule"):
        _cfg(lr_schedule="step")
    with pytest.raises(InputError, match="warmup_steps"):
        _cfg(warmup_steps=6)


def test_cosine_schedule_trains_otherwise_and_resumes_bit_identically(reference_run, tmp_path, monkeypatch):
    """The schedule changes the run (so it is applied), a killed cosine run resumes to the same
    weights, and it cannot be resumed towards another number of steps (the schedule's end)."""
    ref, _ = reference_run
    whole = tmp_path / "whole"
    _run(whole, lr_schedule="cosine", warmup_steps=2)
    a, b = _weights(ref / "last.pt"), _weights(whole / "last.pt")
    assert any(not torch.equal(a[k], b[k]) for k in a)

    real_evaluate = _crash_at_third_validation(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "resumed", lr_schedule="cosine", warmup_steps=2)
    monkeypatch.setattr(train_mod, "evaluate", real_evaluate)
    with pytest.raises(InputError, match="steps"):
        _run(tmp_path / "resumed", lr_schedule="cosine", warmup_steps=2, steps=8)
    _run(tmp_path / "resumed", lr_schedule="cosine", warmup_steps=2)
    _assert_same_weights(_weights(whole / "last.pt"), _weights(tmp_path / "resumed" / "last.pt"))


def test_a_training_stops_at_a_checkpoint_before_its_deadline_and_the_next_job_resumes_it(tmp_path, monkeypatch):
    reference = tmp_path / "ref"
    _run(reference)  # steps 6, a checkpoint every 2
    job = tmp_path / "job"
    monkeypatch.setenv(DEADLINE_ENV, str(time.time()))  # the limit is here: stop at the first checkpoint
    with pytest.raises(JobTimeLimit, match=r"stopped at step 2 of 6 .*resumes from this checkpoint"):
        _run(job)
    assert torch.load(job / "last.pt", weights_only=False)["step"] == 2
    assert not (job / "best.pt").exists() or torch.load(job / "best.pt", weights_only=False)["step"] <= 2
    monkeypatch.setenv(DEADLINE_ENV, str(time.time() + 3600))  # the next job: time enough
    assert _run(job)["step"] == 6
    for name in ("last.pt", "best.pt"):
        _assert_same_weights(_weights(reference / name), _weights(job / name))
    assert _csv(reference / "loss.csv") == _csv(job / "loss.csv")


def test_without_a_deadline_a_training_runs_to_its_end(tmp_path, monkeypatch):
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    assert _run(tmp_path)["step"] == 6
