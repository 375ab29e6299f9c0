"""A workflow rule's script adapter run as Snakemake runs it (`script:`: a fresh interpreter with a global
`snakemake`), with a stand-in for that object, in a child process: its exit status, its stderr and its
log. For the refusals a rule's job must give as one line, not a traceback (scripts/_common.refusals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import patch2loc

REPO = Path(patch2loc.__file__).resolve().parents[2]  # the checkout whose code is tested (its scripts too)

RUN_SCRIPT = """
import json, runpy, sys, types
spec = json.loads(sys.argv[1])
def ns(value):
    return types.SimpleNamespace(**value) if isinstance(value, dict) else value
snakemake = types.SimpleNamespace(**{k: ns(v) for k, v in spec.items()})
runpy.run_path(spec["scriptdir"] + "/" + sys.argv[2], init_globals={"snakemake": snakemake})
"""


def run_script(
    script: str, log: Path, env: dict | None = None, timeout: float = 300, address_gb: float | None = None, **fields
) -> subprocess.CompletedProcess:
    """Run workflow/scripts/`script` with a snakemake object of `fields` (input, output, params, wildcards:
    dicts, read as attributes) and its log at `log`; `address_gb`: the child's address space is capped
    there (a script that reads what it should refuse then fails instead of taking the shared machine's memory)."""
    import resource

    spec = {"scriptdir": str(REPO / "workflow" / "scripts"), "log": [str(log)], "threads": 1, **fields}
    environ = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    limit = None if address_gb is None else int(address_gb * 2**30)

    def cap():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, json.dumps(spec), script],
        capture_output=True, text=True, env=environ, timeout=timeout, preexec_fn=cap,
    )  # fmt: skip


def one_line_refusal(proc: subprocess.CompletedProcess, log: Path, rule: str) -> str:
    """Assert the job's refusal: exit 2, no traceback, one `rule <rule>: error:` line in the log, the same
    line alone on the job's stderr; returns it."""
    text = log.read_text()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-800:], text[-800:])
    assert "Traceback" not in text and "Traceback" not in proc.stderr
    lines = [line for line in text.splitlines() if line.startswith(f"rule {rule}: error:")]
    assert len(lines) == 1 and proc.stderr.strip() == lines[0], (lines, proc.stderr)
    return lines[0]
