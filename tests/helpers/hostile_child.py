"""The judge of the hostile entry-point tests (marked `hostile`: make test-hostile): the BIDS App,
diffusion and multi-contrast bundles, the data rules' inputs, labels and tuning files, caches and
settings. Each case (a `Case` of tests/helpers/hostile_child_fixture.py) builds its inputs in a folder
of its own (in/, out/, home/, tmp/) and runs the real entry point in a child process with a timeout:
the CLI (`python -m patch2loc.cli ...`) where there is one, else the library function the workflow's
script adapter calls (tests/helpers/entry_call.py), or a rule's script as Snakemake runs it.

Recorded per case: exit status, stderr lines, wall time, peak RSS (GNU time's %M of the child), files
written in the case folder outside out/ (HOME and TMPDIR point into it, so they count), whatever a
refusal left in out/, inputs changed (sha256 of in/ and the shared fixture before and after). A
watchdog kills a child past 3 GB RSS.

PASS (the test passes): the expected exit status (2, a refusal, unless the case says otherwise: a
correct checksum written in upper case must be accepted, exit 0; the controls run whole, exit 0; a
crafted file the entry point never reads must leave its run as the control's: exit 0, at most 1.5 x its
seconds + 5 s and its peak RSS + 128 MB), that many stderr lines (1 for a refusal, matching the case's
`needle` when it has one, with its folder's path taken out; 0 for exit 0), peak RSS < 1.5 GB for a
refusal (a control's whole run is reported, not judged), nothing written outside out/, nothing left in
out/ by a refusal (a download's .part is kept on purpose, for resuming), inputs unchanged, and a
`Checked` case's check of what a successful run produced. Anything else fails; a case that ran out
of time fails (timeout).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.hostile_child_fixture import Case

REPO = Path(__file__).resolve().parents[2]
RSS_LIMIT_MB, KILL_MB = 1536, 3072
# GNU time runs each child and reports its peak RSS (%M): wait4's ru_maxrss of a child forked from
# this process counts the pages it shared with it before exec (this process holds torch and the
# fixture: about 1.1 GB), time is a small process. apt-get install time where it is missing.
TIME = shutil.which("time", path="/usr/bin:/bin")


def _snapshot(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, object]:
    """path -> sha256 (or link target, 'dir', size+mtime for files past 64 MB)."""
    state: dict[str, object] = {}
    if not root.exists():
        return state
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in skip]
        for name in dirnames + filenames:
            p = here / name
            if p.is_symlink():
                state[str(p)] = "link:" + os.readlink(p)
            elif p.is_dir():
                state[str(p)] = "dir"
            elif p.is_file():
                st = p.stat()
                if st.st_size > (64 << 20):
                    state[str(p)] = (st.st_size, st.st_mtime_ns)
                else:
                    state[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                state[str(p)] = "special"
    return state


def _group_rss_mb(group: int) -> float:
    """RSS of every process in the process group `group` (the child runs under GNU time, in a
    session of its own: time, the interpreter and whatever it starts)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            pass  # a process that ended meanwhile
    return total


def _peak_kb(path: Path, usage) -> float:
    """The child's peak RSS in kB as GNU time measured it (its last line; absent when it was killed,
    then wait4's figure, which is at least as large)."""
    try:
        return float(path.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return float(usage.ru_maxrss)


def run_case(case: Case, fix, work: Path, timeout: float) -> dict:
    folder = work / "cases" / case.name
    shutil.rmtree(folder, ignore_errors=True)
    for sub in ("in", "out", "home", "tmp"):
        (folder / sub).mkdir(parents=True)
    row = {"case": case.name, "surface": case.surface}
    try:
        argv = case.build(fix, folder)
    except Exception as exc:  # a case that cannot be built is reported, not fatal
        return {**row, "verdict": "ERROR", "note": f"build failed: {type(exc).__name__}: {exc}"[:160]}
    if argv is None:
        return {**row, "verdict": "SKIP", "note": "fixture missing"}
    out = folder / "out"
    inputs = [folder / "in", fix.root]
    before_in = {str(p): _snapshot(p) for p in inputs}
    before = _snapshot(folder, skip=(out, folder / "in"))
    out_before = _snapshot(out)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),  # the package, rehearsals/real/
        "PYTHONUTF8": "1",
        "HOME": str(folder / "home"),
        "TMPDIR": str(folder / "tmp"),
        "MPLCONFIGDIR": str(work / "mplconfig"),  # matplotlib's font cache, which a user's HOME already holds
        **case.env,
    }
    err_path = logs / f"{case.name}.stderr"
    with open(logs / f"{case.name}.stdout", "wb") as so, open(err_path, "wb") as se:
        start = time.perf_counter()
        peak = logs / f"{case.name}.maxrss"
        proc = subprocess.Popen(
            [TIME, "-q", "-f", "%M", "-o", str(peak), sys.executable, *argv],
            cwd=folder, env=env, stdout=so, stderr=se, start_new_session=True,
        )  # fmt: skip
        killed, sampled = [""], [0.0]
        limit = case.timeout or timeout

        def watchdog():
            while proc.returncode is None:
                late = time.perf_counter() - start > limit
                sampled[0] = max(sampled[0], _group_rss_mb(proc.pid))
                if late or sampled[0] > KILL_MB:
                    killed[0] = "timeout" if late else f"killed past {KILL_MB} MB"
                    os.killpg(proc.pid, signal.SIGKILL)  # its own session: its children go too
                    return
                time.sleep(0.05)

        dog = threading.Thread(target=watchdog, daemon=True)
        dog.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        dog.join()
    err = err_path.read_bytes().decode("utf-8", "backslashreplace").strip().splitlines()
    after = _snapshot(folder, skip=(out, folder / "in"))
    written = sorted(p for p, v in after.items() if before.get(p) != v)
    after_in = {str(p): _snapshot(p) for p in inputs}
    changed = [q for p in inputs for q, v in before_in[str(p)].items() if after_in[str(p)].get(q) != v]
    left = [p for p, v in _snapshot(out).items() if out_before.get(p) != v and Path(p).name not in case.allow_out]
    row.update(
        exit=None if killed[0] else proc.returncode,
        lines=len(err),
        seconds=round(seconds, 1),
        rss_mb=round(max(_peak_kb(peak, usage) / 1024, sampled[0])),  # sampled: a killed child's
        written=len(written),
        out_left=len(left),
        inputs_changed=len(set(changed)),
        first_line=(err[0] if err else "")[:160],
    )
    problems = []
    if killed[0]:
        problems.append(killed[0])
    elif proc.returncode != case.expect:
        problems.append(f"exit {proc.returncode}, expected {case.expect}")
    if len(err) != (0 if case.expect == 0 else 1):  # a BIDS run's exit counts its failed scans, one line each
        problems.append(f"{len(err)} stderr lines")
    elif case.expect != 0 and case.needle and not re.search(case.needle, err[0].replace(str(folder), "<case>"), re.I):
        problems.append(f"line lacks '{case.needle}'")  # the case folder's own name does not count
    if row["rss_mb"] >= RSS_LIMIT_MB and case.expect != 0:  # a control that runs whole: reported, not judged
        problems.append(f"RSS {row['rss_mb']} MB")
    if written:
        problems.append(f"wrote {Path(written[0]).relative_to(folder)}")
    if left and case.expect != 0:
        problems.append(f"left {Path(left[0]).relative_to(folder)}")
    if changed:
        problems.append("input changed")
    row["verdict"] = "FAIL" if problems else "PASS"
    row["note"] = "; ".join(problems)
    return row


def _as_control(row: dict, control: dict | None) -> None:
    """Judge a `like` case's time and memory against its control's row (run first, in the same session)."""
    if row["verdict"] in ("ERROR", "SKIP"):
        return
    extra = []
    if control is None or control["verdict"] != "PASS":
        extra.append("its control did not pass")
    elif row["seconds"] > 1.5 * control["seconds"] + 5:  # a shared machine: seconds vary by a few
        extra.append(f"{row['seconds']} s against the control's {control['seconds']} s")
    if control and row["rss_mb"] > control["rss_mb"] + 128:
        extra.append(f"{row['rss_mb']} MB against the control's {control['rss_mb']} MB")
    if extra:
        row["verdict"], row["note"] = "FAIL", "; ".join(filter(None, [row["note"], *extra]))


def _checked(row: dict, case: Case, work: Path) -> None:
    """A run that exited as expected is also held to its case's check of its outputs."""
    check = getattr(case, "check", None)
    if check is None or row.get("verdict") != "PASS":
        return
    problem = check(work / "cases" / case.name)
    if problem:
        row["verdict"], row["note"] = "FAIL", problem


class EntryBattery:
    """One session's fixture (built lazily: each case builds only what it reads) and the rows of the
    cases run so far, which a `like` case's control is taken from (run first when it was not)."""

    def __init__(self, work: Path):
        from tests.helpers.hostile_surface_fixture import SurfaceFixture

        self.work = work
        self.fix = SurfaceFixture(work / "fixture")
        self.rows: dict[str, dict] = {}

    def row(self, case: Case, timeout: float) -> dict:
        if case.name not in self.rows:
            self.rows[case.name] = run_case(case, self.fix, self.work, timeout)
        return self.rows[case.name]

    def check(self, case: Case, cases: list[Case], timeout: float) -> None:
        if TIME is None:
            pytest.skip("needs GNU time (apt-get install time)")
        control = None
        if case.like:
            control = self.row(next(c for c in cases if c.name == case.like), timeout)
        row = dict(self.row(case, timeout))
        if case.like:
            _as_control(row, control)
        _checked(row, case, self.work)
        if row["verdict"] == "SKIP":
            pytest.skip(row["note"])
        assert row["verdict"] == "PASS", (
            f"{case.name}: {row.get('note')} (exit {row.get('exit')}: {row.get('first_line')})"
        )
