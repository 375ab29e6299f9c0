"""Cards of several sizes: each training job declares the GPU memory it needs (`gpu_mem_gib`, from the
registry's train_gpu_gib at its config's precision), at least the peak the GPU benchmark measured
(docs/gpu/h200-2026-11-27.json), and with config `device.cards` asks SLURM (the plugin's
`constraint`) for the cards that hold it; a site whose cards hold none is told the precision that fits."""

from __future__ import annotations

import json

import pytest
import yaml
from patch2loc.registry import METHODS, TRAINED
from tests.helpers.env_check import load_rules
from tests.helpers.workflow import REPO, copy_workflow

pytestmark = pytest.mark.slow  # Snakemake's parse of the paper workflow under four configs

RECORD = REPO / "docs" / "gpu" / "h200-2026-11-27.json"
# Trainings the benchmark has not run yet: their memory is a measured method's (registry comments).
NOT_MEASURED = {"PHANES-noPretrained"}
CARDS = {"v100": 16, "a10": 24, "a100": 40, "h100": 80}
OVERLAYS = {
    "cards": {"device": {"require_cuda": True, "cards": CARDS}},
    "cards_bf16": {"device": {"require_cuda": True, "cards": CARDS}, "patch2loc": {"amp": "bf16"}},
    "small_cards": {"device": {"require_cuda": True, "cards": {"v100": 16, "a10": 24}}},
}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("cards"))
    for name, overlay in OVERLAYS.items():
        text = yaml.safe_dump({"extends": "config.yaml", **overlay})
        (workdir / "config" / f"{name}.yaml").write_text(text, encoding="utf-8")
    names = ["config/config.yaml", "config/cards.yaml", "config/cards_bf16.yaml"]
    return workdir, load_rules(workdir, names)


def _peaks() -> dict[str, dict]:
    res = json.loads(RECORD.read_text(encoding="utf-8"))["results"]
    peaks = {"Patch2Loc": res["patch2loc_training"]}
    peaks |= {name: row["training"] for name, row in res["methods"].items() if row.get("training")}
    # a half precision not measured (PHANES', FAE's): its declared peak is checked against fp32's
    return {
        name: {"none": p["none"]["peak_gib"], "amp": (p.get("bf16") or p["none"])["peak_gib"]}
        for name, p in peaks.items()
    }


def _jobs(rules: dict) -> dict[str, tuple[str, str]]:
    """training rule -> (method name as measured, its config block)."""
    out = {}
    for name in TRAINED:
        m = METHODS[name]
        out[m.train_rule] = (name, m.config)
        if m.pretrain:
            out[m.pretrain.rule] = (m.pretrain.name, m.config)
    return {r: v for r, v in out.items() if r in rules}


def test_every_training_declares_at_least_its_measured_peak(parsed):
    _, rules = parsed
    paper = rules["config/config.yaml"]
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text(encoding="utf-8"))
    peaks, trainings = _peaks(), _jobs(paper)
    assert {"train_model", "train_dae", "train_ddpm", "pretrain_cddpm"} <= set(trainings)
    for rule, (method, block) in trainings.items():
        declared = paper[rule]["resources"].get("gpu_mem_gib", 0)
        if method in NOT_MEASURED:
            assert method not in peaks, f"{method} is measured now: take it out of NOT_MEASURED"
            assert declared > 0, rule
            continue
        precision = "none" if cfg[block]["amp"] == "none" else "amp"
        assert declared >= peaks[method][precision], (rule, declared, peaks[method])
        registry = METHODS[method] if method in METHODS else next(m.pretrain for m in METHODS.values() if m.pretrain)
        assert registry.train_gpu_gib[0] >= peaks[method]["none"] and registry.train_gpu_gib[1] >= peaks[method]["amp"]


def test_each_training_asks_for_the_cards_that_hold_it(parsed):
    _, rules = parsed
    fp32, bf16 = rules["config/cards.yaml"], rules["config/cards_bf16.yaml"]
    assert fp32["train_model"]["resources"]["constraint"] == "a100|h100"  # 36 GiB in fp32
    assert bf16["train_model"]["resources"]["constraint"] == "a10|a100|h100"  # 17.3 GiB with bf16
    assert fp32["train_ae"]["resources"]["constraint"] == "a10|a100|h100|v100"  # 4.9 GiB
    assert "constraint" not in rules["config/config.yaml"]["train_model"]["resources"]  # no cards named


def test_a_site_whose_cards_are_too_small_is_told_the_precision_that_fits(parsed):
    workdir, _ = parsed
    with pytest.raises(RuntimeError) as err:
        load_rules(workdir, ["config/small_cards.yaml"])
    assert "no card holds a Patch2Loc training's 37 GiB at amp none" in str(err.value)
    assert "patch2loc.amp: bf16 (18 GiB)" in str(err.value)
