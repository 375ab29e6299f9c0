"""Every trained method's settings block typed and bounded where it is read (run/typed.py), wherever it came
from: a bool is not a whole number, a string is not a number, NaN and infinity are not numbers, each one line
naming the key (before, a step count of "300" ended in a TypeError inside the method's checks). A training
that ends without its best.pt says why in one line (diverged, no validation step) and leaves nothing it made
(before, the rule script failed on the missing file)."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from tests.helpers.hostile_round6_files import training_lists
from tests.helpers.safety import refused
from tests.helpers.safety import train_argv as shared_train_argv

import patch2loc.methods.patch2loc.train as train_mod
from patch2loc import cli
from patch2loc.errors import InputError
from patch2loc.registry import METHODS, implementation
from patch2loc.run.settings import config_from_dict

TRAINED = [name for name, entry in METHODS.items() if entry.trains]
BAD = [("steps", "300"), ("steps", True), ("steps", 300.0), ("val_every", None), ("seed", "1")]
BAD_NUMBERS = [float("nan"), float("inf"), "1e-3", False]


@pytest.mark.parametrize("method", TRAINED)
@pytest.mark.parametrize("key, value", BAD)
def test_a_wrong_type_in_any_block_is_one_line_naming_the_key(method, key, value):
    settings = implementation(method).Settings
    with pytest.raises(InputError, match=rf"\.{key}={value!r}: must be ".replace("(", r"\(")) as info:
        config_from_dict(settings, {key: value}, f"{method} block")
    assert "\n" not in str(info.value) and f"fix {key}" in str(info.value)


@pytest.mark.parametrize("method", TRAINED)
@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_nan_infinity_text_and_bools_are_not_a_learning_rate(method, value):
    settings = implementation(method).Settings
    assert "lr" in {f.name for f in fields(settings)}
    with pytest.raises(InputError, match=r"\.lr=.*must be a finite number"):
        config_from_dict(settings, {"lr": value}, f"{method} block")


@pytest.mark.parametrize("method", TRAINED)
def test_a_block_built_directly_is_checked_too(method):
    """A resumed run's, a bundle's or a hand-edited config builds the dataclass without config_from_dict."""
    with pytest.raises(InputError, match=r"\.steps='300': must be a whole number, not str"):
        implementation(method).Settings(steps="300")


@pytest.mark.parametrize("method", TRAINED)
def test_the_defaults_pass(method):
    cfg = implementation(method).Settings()
    assert isinstance(cfg.steps, int) and math.isfinite(cfg.lr)


@pytest.fixture()
def lists(tmp_path):
    return training_lists(tmp_path / "data")


def _argv(data, out, *extra):
    return shared_train_argv(data / "train.csv", data / "val.csv", out, *extra)


def test_a_diverged_training_is_one_line_and_leaves_nothing(lists, tmp_path, capsys, monkeypatch):
    real = train_mod.evaluate

    def diverged(*args, **kwargs):
        return {**real(*args, **kwargs), "val_loss": float("nan")}

    monkeypatch.setattr(train_mod, "evaluate", diverged)
    line = refused(_argv(lists, tmp_path / "run"), "training diverged: no validation loss was finite", tmp_path, capsys)
    assert "best.pt: not written" in line and "lower lr" in line


def test_a_finished_run_without_its_best_pt_says_no_step_ran(lists, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(_argv(lists, run)) == 0
    (run / "best.pt").unlink()
    line = refused(_argv(lists, run), "no step ran: the resume state last.pt is already at step 2", tmp_path, capsys)
    assert "best.pt: not written" in line and "restore best.pt, or delete last.pt" in line
