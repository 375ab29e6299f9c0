"""Snakemake's two schedulers side by side on jobs queued for one GPU: CPU seconds and planning rounds.

While a job waits for a resource, Snakemake plans again a second after each round, and every
finished job starts one more such chain, so the rounds grow with the queue's length. The ILP
scheduler writes the plan to disk and forks its solver (CBC) each round; the greedy one plans in
Python. The workflow's profile picks greedy (profiles/default), and the workflow keeps one re-plan
pending instead of a chain per finished job (patch2loc.run.replanning): the third row.

    python benchmarks/bench_scheduler.py              # 24 jobs of 2 s for a gpu=1 resource
    python benchmarks/bench_scheduler.py --tiny       # 6 jobs of 0.5 s (the test's mode)

Prints one row per scheduler (wall s, CPU s of Snakemake and its children, planning rounds), the
ILP/greedy ratio of CPU seconds and greedy's rounds as shipped over the workflow's, all measured in
this run.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# what rules/common.smk does in the workflow's Snakemake process
ONE_REPLAN = f"""import sys
sys.path.insert(0, {str(REPO / "src")!r})
from patch2loc.run.replanning import coalesce_replanning
assert coalesce_replanning()
"""
SNAKEFILE = """\
rule all:
    input: expand("out/{{i}}.txt", i=range({jobs}))

rule wait_for_the_gpu:
    output: "out/{{i}}.txt"
    resources: gpu=1
    shell: "sleep {seconds}; echo {{wildcards.i}} > {{output}}"
"""
ROUND = "Resources before job selection"  # Snakemake's debug line at the start of each planning round


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(scheduler: str, jobs: int, seconds: float, work: Path, one_replan: bool = False) -> dict:
    """One Snakemake run of `jobs` jobs holding gpu=1 for `seconds` each, on 2 cores."""
    folder = work / f"{scheduler}{'-one-replan' if one_replan else ''}"
    folder.mkdir()
    text = (ONE_REPLAN if one_replan else "") + SNAKEFILE.format(jobs=jobs, seconds=seconds)
    (folder / "Snakefile").write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--resources", "gpu=1"]
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [*command, "--scheduler", scheduler, "--verbose"], cwd=folder, capture_output=True, text=True, timeout=1800
    )
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"bench_scheduler: the {scheduler} run failed:\n{done.stderr[-2000:]}")
    return {"wall_s": wall, "cpu_s": cpu, "rounds": done.stderr.count(ROUND)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=2.0, help="each job's sleep")
    ap.add_argument("--tiny", action="store_true", help="6 jobs of 0.5 s")
    args = ap.parse_args(argv)
    jobs, seconds = (6, 0.5) if args.tiny else (args.jobs, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        rows = {name: run(name, jobs, seconds, Path(tmp)) for name in ("ilp", "greedy")}
        rows["greedy, one re-plan"] = run("greedy", jobs, seconds, Path(tmp), one_replan=True)
    print(f"{jobs} jobs of {seconds} s, each holding gpu=1, on 2 cores")
    print(f"{'scheduler':20s} {'wall s':>8s} {'CPU s':>8s} {'rounds':>7s}")
    for name, row in rows.items():
        print(f"{name:20s} {row['wall_s']:8.1f} {row['cpu_s']:8.2f} {row['rounds']:7d}")
    print(f"ILP/greedy CPU seconds: {rows['ilp']['cpu_s'] / rows['greedy']['cpu_s']:.2f}")
    print(
        f"greedy's rounds as shipped / with one re-plan: {rows['greedy']['rounds'] / rows['greedy, one re-plan']['rounds']:.2f}"
    )


if __name__ == "__main__":
    main()
