"""Rule report: one HTML page with the demo's checks, every table and figure, and links to the
heatmap viewers (beside it under viewers/)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, snakemake.scriptdir)
from _common import setup

setup(snakemake)

import yaml
from patch2loc.evaluation.report.html import build_report
from patch2loc.evaluation.report.sections import demo_check_items, healthy_items, per_volume_items
from patch2loc.run.layout import RunLayout

inp = snakemake.input
run_dir = Path(snakemake.output.html).parent


def csv_of(files):
    return next(f for f in files if f.endswith(".csv"))


def caption_of(files):
    return Path(next(f for f in files if f.endswith(".md"))).read_text(encoding="utf-8").split("\n\n")[0]


def rst_caption(kind):
    """A figure's caption: the text of Snakemake's report (workflow/report/{kind}.rst)."""
    return " ".join((Path(snakemake.scriptdir).parent / "report" / f"{kind}.rst").read_text(encoding="utf-8").split())


sections = [
    ("The demo's checks", demo_check_items(run_dir)),
    (
        "Table 1",
        [(caption_of(inp.table1), csv_of(inp.table1)), (caption_of(inp.supplementary), csv_of(inp.supplementary))]
        + [(caption_of(inp.spaces), csv_of(inp.spaces))],
    ),
    ("Table 2", [(caption_of(inp.table2), csv_of(inp.table2))]),
    (
        "Table 3: the challenges' metrics at the unsupervised threshold",
        [(caption_of(inp.table3), csv_of(inp.table3))]
        + [(caption_of(inp.table3_challenges), csv_of(inp.table3_challenges))]
        + [(caption_of(inp.table3_size), csv_of(inp.table3_size))]
        + [
            (f"{RunLayout.parse(png, 'figure:recall_size')['dataset']}: {rst_caption('recall_size')}", png)
            for png in inp.recall_size
        ]
        + [(caption_of(inp.table3_load), csv_of(inp.table3_load))],
    ),
    ("Paired tests", [(caption_of(inp.paired_tests), csv_of(inp.paired_tests))]),
    ("Table 4: volume-level detection", [(caption_of(inp.table4), csv_of(inp.table4))]),
    ("Bias: false positives on healthy brains by site, sex and age", [(caption_of(inp.bias), csv_of(inp.bias))]),
    ("Per-volume results and heatmap viewers", per_volume_items(inp.per_volume, run_dir) + healthy_items(run_dir)),
]
if inp.model_inputs:  # config `inputs` of several contrasts: the subjects each kept and those it left out
    caption = (
        "{}: IXI subjects per fold and split of this model input of several contrasts, and those left out "
        "of it for lacking one of its contrasts (config inputs; docs/multimodal.md)."
    )
    sections.insert(
        2, ("Model inputs of several contrasts", [(caption.format(Path(f).stem), f) for f in inp.model_inputs])
    )
# Whatever figures the figures rule drew, in its order and sections.
manifest = json.loads(Path(inp.figures).read_text(encoding="utf-8"))
figure_dir = Path(inp.figures).parent
for section in dict.fromkeys(f["section"] for f in manifest):
    sections.append((section, [(f["caption"], figure_dir / f["file"]) for f in manifest if f["section"] == section]))
sections.append(
    (
        "Compute",
        [
            (
                "Jobs, wall-clock hours and GPU-hours per stage (Snakemake benchmark files; "
                "GPU-hours count the jobs that ask for a GPU, also when it ran on a CPU).",
                inp.compute,
            )
        ],
    )
)
sections.append(
    ("Provenance", [("Package versions: " + Path(inp.versions).read_text(encoding="utf-8").replace("\n", "; "), None)])
)
build_report(
    snakemake.output.html,
    f"Patch2Loc results: {snakemake.params.run_name}",
    sections,
    run_name=snakemake.params.run_name,
    config=yaml.safe_load(Path(inp.config).read_text(encoding="utf-8")),
)
