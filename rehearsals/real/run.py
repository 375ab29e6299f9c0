"""The offline rehearsal of the paper path: fixtures -> loopback server -> the real workflow.

    python -m rehearsals.real.run --configfile config/rehearsal.yaml --cores 2   (make rehearse-real)

1. writes the raw fixtures (rehearsals.real.fixtures) under results/<run>/fixtures and the
   manual datasets (BraTS21, ATLAS v2) under the config's raw_root, once;
2. serves them on 127.0.0.1 (bounded server) with three faults: the first transfers of
   IXI/IXI-T2.tar and of the first WMH file (fetched one by one through the per-file API by
   download_wmh) break off half-way (the rules' retries resume them), and the first transfer of
   SRI24/sri24_spm8.zip is corrupted (caught by its pinned sha256, fetched again);
3. runs Snakemake with `source: real` and `sources:` pointing at the served files, so the real
   download, extract, WMH, skull-strip, preprocessing, Nyul, training and scoring rules run, for
   every method (the SRI24 zip with templates/ at its top level);
4. runs the atlas rules once more, alone, on the SRI24 zip with sri24_spm8/templates/ (its own
   raw folder): only the two atlas files leave those rules, so the same atlas from both layouts
   shows the whole chain would run the same on either (a second full run would take as long again);
5. writes results/<run>/rehearsal.json: requests per served file, QC rows flagged, timings, and
   the checks: Snakemake's exit code, every method of config/config.yaml in Table 1, both SRI24
   layouts giving the same atlas. The exit code is 0 only when all hold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import yaml

from patch2loc.registry import run_methods
from patch2loc.run.configfiles import load as load_configfiles
from rehearsals.real.checks import same_atlas, table1_methods
from rehearsals.real.fixtures import SRI24_LAYOUTS, Plan, build_all, sources
from rehearsals.real.server import FileServer

INTERRUPT = ("IXI/IXI-T2.tar",)
CORRUPT = ("SRI24/sri24_spm8.zip",)
SECOND_SRI24 = "SRI24/nested/sri24_spm8.zip"


def prepare(config: dict, plan: Plan) -> tuple[Path, dict]:
    """Build the fixtures once (a marker file records the plan); return (fixtures dir, subjects)."""
    fixtures = Path(config["splits_dir"]).parent
    marker = fixtures / "fixtures.json"
    served_xls = fixtures / "served" / "IXI" / "IXI.xls"  # fixtures made before it was served are rebuilt
    if marker.exists() and json.loads(marker.read_text()).get("plan") == asdict(plan) and served_xls.exists():
        return fixtures, json.loads(marker.read_text())["subjects"]
    subjects = build_all(fixtures, Path(config["raw_root"]), plan)
    marker.write_text(json.dumps({"plan": asdict(plan), "subjects": subjects}, indent=1))
    return fixtures, subjects


def qc_flags(out: Path) -> list[dict]:
    """Every QC row flagged as an outlier, over all QC tables of the run."""
    flagged = []
    for table in sorted((out / "qc").glob("*.csv")):
        df = pd.read_csv(table)
        for _, row in df[df["outlier"]].iterrows():
            flagged.append(
                {
                    "dataset": row["dataset"],
                    "modality": row["modality"],
                    "subject": row["subject"],
                    "reason": row["outlier_reason"],
                }
            )
    return flagged


def _snakemake(workdir: Path, configfile, source_file: Path, targets=(), cores: int = 2, extra_config=()):
    # targets first: --config takes every word after it
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--cores",
        str(cores),
        "--resources",
        f"gpu={cores}",
        "--configfile",
        str(configfile),
        "--rerun-triggers",
        "mtime",
        "--config",
        f"sources={source_file}",
        *extra_config,
    ]
    return cmd, subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)


def _second_layout(workdir: Path, config: dict, fixtures: Path, base_url: str, cores: int) -> dict:
    """The atlas rules alone on the other SRI24 layout, in their own run and raw folder."""
    raw = f"{config['raw_root']}-sri24-nested"
    second = {
        **config,
        "run_name": f"{config['run_name']}-sri24-nested",
        "raw_root": raw,
        "atlas": {k: v.replace(config["raw_root"], raw, 1) for k, v in config["atlas"].items()},
    }
    configfile, source_file = fixtures / "config_sri24_nested.yaml", fixtures / "sources_sri24_nested.yaml"
    configfile.write_text(yaml.safe_dump(second))
    source_file.write_text(yaml.safe_dump(sources(fixtures / "served", base_url, SECOND_SRI24)))
    atlas = (second["atlas"]["image"], second["atlas"]["mask"])
    _, proc = _snakemake(workdir, configfile, source_file, atlas, cores)
    same = proc.returncode == 0 and same_atlas(
        tuple(workdir / p for p in atlas), (workdir / config["atlas"]["image"], workdir / config["atlas"]["mask"])
    )
    return {
        "layouts": {name: f"{folder}/T1_brain.nii" for name, folder in SRI24_LAYOUTS.items()},
        "second_returncode": proc.returncode,
        "same_atlas": same,
        "log": proc.stdout[-3000:] + proc.stderr[-3000:],
    }


def rehearse(
    configfile: str | Path,
    *,
    plan: Plan = Plan(),
    cores: int = 2,
    targets=(),
    extra_config=(),
    workdir: str | Path = ".",
    lifetime: float = 3600.0,
) -> dict:
    """Run the rehearsal in `workdir` (a checkout); return the summary (also written as JSON)."""
    workdir = Path(workdir).resolve()
    config = load_configfiles([workdir / configfile])  # its `extends` chain, as the workflow reads it
    for item in extra_config:  # the same key=value overrides Snakemake gets (top-level keys only)
        key, value = item.split("=", 1)
        config[key] = yaml.safe_load(value)
    out = workdir / "results" / config["run_name"]
    # Datasets set to `provided` get the masks a user would add (MSLUB ships its own).
    plan = replace(
        plan,
        user_masks=tuple(d for d, v in config["datasets"].items() if v["skull_strip"] == "provided" and d != "MSLUB"),
    )
    t0 = time.perf_counter()
    fixtures, subjects = prepare(
        {**config, "splits_dir": str(workdir / config["splits_dir"]), "raw_root": str(workdir / config["raw_root"])},
        plan,
    )
    t_fixtures = time.perf_counter() - t0
    served = fixtures / "served"
    interrupt = INTERRUPT + tuple(subjects["wmh_fetched"][:1])
    with FileServer(served, interrupt=interrupt, corrupt=CORRUPT, lifetime=lifetime) as server:
        base_url = f"http://127.0.0.1:{server.port}"
        source_file = fixtures / "sources.yaml"
        source_file.write_text(yaml.safe_dump(sources(served, base_url)))
        cmd, proc = _snakemake(workdir, configfile, source_file, targets, cores, extra_config)
        t_main = time.perf_counter() - t0
        sri24 = _second_layout(workdir, config, fixtures, base_url, cores) if proc.returncode == 0 else None
        requests = dict(server.requests)
    paper = run_methods(load_configfiles([workdir / "config" / "config.yaml"]))
    methods = {"rehearsal": run_methods(config), **table1_methods(out / "tables" / "table1.csv", paper)}
    checks = {
        "snakemake": proc.returncode == 0,
        "table1_every_paper_method": not methods["missing"],
        "sri24_both_layouts": bool(sri24 and sri24["same_atlas"]),
    }
    summary = {
        "ok": all(checks.values()),
        "checks": checks,
        "returncode": proc.returncode,
        "seconds": {
            "fixtures": round(t_fixtures, 1),
            "snakemake": round(t_main - t_fixtures, 1),
            "total": round(time.perf_counter() - t0, 1),
        },
        "methods": methods,
        "sri24": sri24,
        "requests": requests,
        "interrupted": list(interrupt),
        "corrupted": list(CORRUPT),
        "qc_flagged": qc_flags(out) if proc.returncode == 0 else None,
        "subjects": subjects,
        "command": " ".join(cmd),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "rehearsal.json").write_text(json.dumps(summary, indent=1))
    (out / "rehearsal_snakemake.log").write_text(proc.stdout + proc.stderr)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", default="config/rehearsal.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("targets", nargs="*", help="Snakemake targets (default: the config's all)")
    args = ap.parse_args(argv)
    summary = rehearse(args.configfile, cores=args.cores, targets=args.targets)
    print(
        json.dumps(
            {k: summary[k] for k in ("ok", "checks", "returncode", "seconds", "requests", "qc_flagged")}, indent=1
        )
    )
    if summary["returncode"] != 0:
        print("snakemake failed; see results/<run>/rehearsal_snakemake.log", file=sys.stderr)
    for name, held in summary["checks"].items():
        if not held:
            print(f"rehearsal check failed: {name} (results/<run>/rehearsal.json)", file=sys.stderr)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
