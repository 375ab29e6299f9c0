"""The workflow with model inputs of several contrasts (config `inputs`, docs/multimodal.md): the paper
config's dry run trains and scores T1T2 models, the demo's has none, and an IXI subject without T2 is
left out of T1T2 training with its count."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.workflow import copy_workflow


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """A copy of the workflow, so that runs never touch the checkout's results/."""
    return copy_workflow(tmp_path)


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )


def jobs(stdout: str) -> list[dict]:
    """Each job of a dry run: {'rule', 'wildcards', 'input', 'output', ...} (the text after each key)."""
    found = []
    for line in stdout.splitlines():
        if re.match(r"^(local)?rule \S+:$", line):
            found.append({"rule": line.split()[-1][:-1]})
        elif found and line.startswith("    ") and ": " in line:
            key, _, value = line.strip().partition(": ")
            found[-1][key] = value
    return found


def wildcards(job: dict) -> dict:
    return dict(kv.split("=", 1) for kv in job.get("wildcards", "").split(", ") if "=" in kv)


def test_paper_dry_run_lists_t1t2_training_and_scoring_jobs(paper_dry_run):
    res = paper_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    listed = jobs(res.stdout)
    multi = [j for j in listed if wildcards(j).get("modality") == "T1T2"]
    trained = sorted((j["rule"], wildcards(j)["fold"]) for j in multi if j["rule"].startswith(("train", "pretrain")))
    assert trained == sorted(
        (r, str(k)) for r in ("train_model", "train_dae") for k in range(5)
    )  # channel methods only
    scored = {(wildcards(j)["method"], wildcards(j)["dataset"]) for j in multi if j["rule"] == "score_lesions"}
    assert scored == {(m, d) for m in ("Patch2Loc", "DAE") for d in ("BraTS21", "MSLUB")}  # the sets with T1 and T2
    healthy = {(wildcards(j)["method"], wildcards(j)["fold"]) for j in multi if j["rule"] == "score_healthy"}
    assert healthy == {(m, f"fold{k}") for m in ("Patch2Loc", "DAE") for k in range(5)}
    stacks = {wildcards(j)["dataset"] for j in multi if j["rule"].startswith("stack_")}
    assert stacks == {"IXI", "BraTS21", "MSLUB"}
    train = next(j for j in multi if j["rule"] == "train_model")
    assert "results/paper/inputs/T1T2.csv" in train["input"] and "normalized/IXI/T1T2/" in train["input"]
    # the T1T2 stack of a lesion set reads both contrasts, normalised on their own landmarks
    stack = next(j for j in multi if j["rule"] == "stack_lesion_contrasts")
    assert "normalized/BraTS21/T1/" in stack["input"] or "normalized/MSLUB/T1/" in stack["input"]
    assert any(j["rule"] == "download" and "coregistered/patient01/T1W.nii.gz" in j["output"] for j in listed)
    # each channel method's T1T2 model is bundled, with both contrasts' landmarks
    exports = {j["rule"]: j for j in multi if j["rule"].startswith("export_bundle")}
    assert sorted(exports) == ["export_bundle", "export_bundle_DAE"]
    for job in exports.values():
        assert "results/paper/landmarks/T1.npy" in job["input"] and "results/paper/landmarks/T2.npy" in job["input"]


def test_demo_dry_run_has_no_input_of_several_contrasts(demo_dry_run):
    res = demo_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    assert "T1T2" not in res.stdout
    assert not {j["rule"] for j in jobs(res.stdout)} & {
        "stack_healthy_contrasts",
        "stack_lesion_contrasts",
        "input_subjects",
    }


def test_demo_long_with_its_commented_t1t2_lines_trains_and_scores_t1t2(workdir):
    overlay = workdir / "config" / "demo_long.yaml"
    text = overlay.read_text().replace("# inputs:", "inputs:").replace("# datasets:", "datasets:")
    overlay.write_text(text)
    res = snakemake(workdir, "-n", "--configfile", "config/demo.yaml", "config/demo_long.yaml")
    assert res.returncode == 0, res.stderr + res.stdout
    listed = jobs(res.stdout)
    scored = {
        (wildcards(j)["method"], wildcards(j)["modality"], wildcards(j)["dataset"])
        for j in listed
        if j["rule"].startswith("score_lesions")
    }
    assert {("Patch2Loc", "T1T2", "BraTS21"), ("DAE", "T1T2", "MSLUB"), ("Patch2Loc", "T2", "MSLUB")} <= scored
    assert ("DDPM", "T1T2", "BraTS21") not in scored  # the diffusion models stay single-contrast
    synth = [j for j in listed if j["rule"] == "synthesize_demo"]
    assert len(synth) == 5 and all("results/demo_long/raw" in j["output"] for j in synth)


def test_an_ixi_subject_without_t2_is_left_out_of_t1t2_training_with_its_count(workdir):
    splits = workdir / "splits" / "demo" / "IXI.csv"
    rows = list(csv.DictReader(splits.open()))
    lacking = next(r for r in rows if r["split"] == "train" and r["fold"] == "0")
    lacking["has_t2"] = "False"
    with splits.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    overlay = workdir / "config" / "t1t2.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "inputs": {"T1": ["T1"], "T2": ["T2"], "T1T2": ["T1", "T2"]},
                # listed in full: a config file's `datasets` replace the ones before it
                "datasets": {
                    "IXI": {"skull_strip": "provided"},
                    "BraTS21": {"skull_strip": "none", "contrasts": ["T2", "T1"]},
                    **{d: {"skull_strip": "provided"} for d in ("MSLUB", "ATLAS_v2", "WMH")},
                },
            }
        )
    )
    args = ("--configfile", "config/demo.yaml", "config/t1t2.yaml")
    res = snakemake(workdir, "-n", *args)
    assert res.returncode == 0, res.stderr + res.stdout
    listed = jobs(res.stdout)
    by_input = {wildcards(j)["modality"]: j for j in listed if j["rule"] == "train_model"}
    subject = lacking["subject_id"]
    assert f"normalized/IXI/T1/{subject}/" in by_input["T1"]["input"]  # T1 models still train on it
    assert subject not in by_input["T1T2"]["input"] and subject not in by_input["T2"]["input"]
    n_train, n_val = (sum(r["split"] == split and r["fold"] == "0" for r in rows) for split in ("train", "val"))
    assert by_input["T1T2"]["input"].count("normalized/IXI/T1T2/") == n_train - 1 + n_val

    table = "results/demo/inputs/T1T2.csv"
    res = snakemake(workdir, table, *args)  # the count: a table the report can show, and the log
    assert res.returncode == 0, res.stderr + res.stdout
    written = {(r["fold"], r["split"]): r for r in csv.DictReader((workdir / table).open())}
    assert written[("0", "train")]["left_out"] == "1" and written[("0", "train")]["subjects"] == str(n_train - 1)
    assert f"{subject}(no T2)" == written[("0", "train")]["left_out_subjects"]
    assert written[("0", "val")]["left_out"] == "0"
    log = (workdir / "results" / "demo" / "logs" / "inputs" / "T1T2.log").read_text()
    assert f"T1T2 fold 0 train: {n_train - 1} subjects, 1 left out for lacking a contrast {subject}(no T2)" in log
