"""What the env rehearsal's run showed, from Snakemake's log and the guard's records: for each rule
that ran, its jobs, the env they ran in (the env file it was built from), whether the guard held,
and the modules they loaded from outside their env. A check fails (exit 1) if a job of a rule with
a script left no record, ran in another env than its rule's, ran unguarded or loaded anything from
the host.

    python -m rehearsals.envs.report OUT WORKDIR CONFIG
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from rehearsals.envs.build import source_env
from rehearsals.envs.rules import load


def finished_jobs(log: Path) -> Counter:
    return Counter(re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", log.read_text(encoding="utf-8")))


def records(folder: Path) -> dict[str, list[dict]]:
    by_rule: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        by_rule.setdefault(record["rule"], []).append(record)
    return by_rule


def check(finished: Counter, by_rule: dict, rules: dict, envs_root: Path) -> tuple[list[str], bool]:
    """(table lines, all held)."""
    lines = ["| rule | jobs | env | guarded | modules from outside the env |", "| --- | --- | --- | --- | --- |"]
    ok, sources = True, {}
    for rule, count in sorted(finished.items()):
        if not rules.get(rule, {}).get("script"):
            continue
        recs = by_rule.get(rule, [])
        for rec in recs:
            if rec["env"] not in sources:
                sources[rec["env"]] = source_env(Path(rec["env"]), envs_root)
        envs = sorted({str(sources[r["env"]]) for r in recs})
        guarded = sum(r["guarded"] for r in recs)
        outside = sorted({m for r in recs for m in r["outside"]})
        held = len(recs) == count and guarded == count and not outside and envs == [rules[rule]["conda"]]
        ok &= held
        flag = "" if held else " **FAILED**"
        lines.append(
            f"| {rule}{flag} | {count} | {', '.join(envs)} | {guarded}/{count} | {', '.join(outside) or 'none'} |"
        )
    return lines, ok


def summarize(out: Path, workdir: Path, config: str) -> tuple[list[str], bool]:
    rules = load(workdir, [config])[config]
    finished = finished_jobs(out / "run.log")
    lines, ok = check(finished, records(out / "records"), rules, workdir / "envs")
    not_run = sorted(r for r, v in rules.items() if v["script"] and r not in finished)
    lines.append(
        f"\n{sum(finished.values())} jobs finished; rules with a script that this DAG did not run: {', '.join(not_run) or 'none'}"
    )
    lines.append("every job ran in its own env's packages only: " + ("yes" if ok else "NO"))
    return lines, ok


if __name__ == "__main__":
    found, held = summarize(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
    print("\n".join(found))
    sys.exit(0 if held else 1)
