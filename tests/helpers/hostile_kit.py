"""The judge of the hostile-input tests of `patch2loc predict` and `patch2loc train` (marked
`hostile`: make test-hostile).

Every case (tests/helpers/hostile_cli.py says how one is written) builds its inputs in a folder of
its own, runs the CLI in a child process (`python -m patch2loc.cli ...`) with a memory watchdog, and
is classified (a test passes when its case is clean):

    clean    the expected exit status, the expected stderr (one line for a refusal, nothing for a
             quiet success), no traceback, nothing left behind (no temporary file, no output of a
             refused call), finite outputs, the case's own checks hold
    HIGH     a silent wrong result (exit 0 with a wrong or non-finite output, stale outputs taken
             as done), a memory bomb (peak anonymous memory over 1 GB), an input changed
    MEDIUM   a traceback, a crash, a wrong exit status, stale or partial outputs left, a misleading
             message (the line does not say what the case is about), a check after the compute
    LOW      cosmetic: extra warning lines, a path printed twice, a Python exception name shown

Memory: `ru_maxrss` of a clean tiny run is already 0.9-1.1 GB here, most of it the file-backed
pages of torch's CUDA libraries, so a bomb is judged by the peak of the child's anonymous memory
(RssAnon in /proc, sampled every 20 ms); both are in the table. The watchdog kills a child past
3 GB of anonymous memory (a HIGH finding) to protect the machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEVERITIES = ("HIGH", "MEDIUM", "LOW")
BOMB_MB, KILL_MB = 1024, 3072
TEMP_MARK = ".p2l-tmp-"


@dataclass
class Result:
    rc: int | None  # exit status; -N for a signal; None when the watchdog or timeout killed it
    err: list[str]
    seconds: float
    anon_mb: float  # peak anonymous memory (sampled)
    maxrss_mb: float  # ru_maxrss
    note: str = ""  # "killed: memory" / "killed: timeout"


@dataclass
class Kit:
    """What a case gets: its folder, the shared fixture, and ways to run the CLI and judge it."""

    name: str
    dir: Path
    fix: dict
    shared: dict  # results other cases compare against (e.g. the clean --from-run summary)
    findings: list = field(default_factory=list)
    results: list = field(default_factory=list)

    def find(self, severity: str, note: str) -> None:
        self.findings.append((severity, note))

    # ------------------------------------------------------------------ running
    def run(
        self,
        argv: list[str],
        *,
        cwd: Path | None = None,
        env: dict | None = None,
        timeout: float = 600,
        as_limit_mb: int | None = None,
        signal_after=None,
    ) -> Result:
        """Run `patch2loc <argv>`; `signal_after(proc)` may send a signal (it returns when it did)."""
        watched = [self.dir / "in", self.fix["root"]]
        before = {str(w): _snapshot(w) for w in watched}
        cmd = [sys.executable, "-m", "patch2loc.cli", *[str(a) for a in argv]]
        full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUTF8": "1", **(env or {})}
        out, err = open(self.dir / "stdout.txt", "wb"), open(self.dir / "stderr.txt", "wb")

        def limits():
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # a battery run in the background ignores SIGINT
            if as_limit_mb:
                resource.setrlimit(resource.RLIMIT_AS, (as_limit_mb << 20, as_limit_mb << 20))

        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd or self.dir, env=full_env, stdout=out, stderr=err, preexec_fn=limits)
        peak, note = [0.0], [""]

        def watchdog():
            while proc.returncode is None:
                anon = anon_mb(proc.pid)
                peak[0] = max(peak[0], anon)
                late = time.perf_counter() - start > timeout
                if anon > KILL_MB or late:
                    note[0] = "killed: memory" if anon > KILL_MB else "killed: timeout"
                    os.kill(proc.pid, signal.SIGKILL)
                    return
                time.sleep(0.02)

        dog = threading.Thread(target=watchdog, daemon=True)
        dog.start()
        if signal_after is not None:
            signal_after(proc)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        dog.join()
        out.close()
        err.close()
        text = (self.dir / "stderr.txt").read_bytes().decode("utf-8", "backslashreplace")
        res = Result(
            None if note[0] else proc.returncode,
            text.strip().splitlines(),
            time.perf_counter() - start,
            peak[0],
            usage.ru_maxrss / 1024,
            note[0],
        )
        self.results.append(res)
        for w in watched:  # files that were there before must be unchanged (new ones are outputs)
            after = _snapshot(w)
            if any(after.get(path) != digest for path, digest in before[str(w)].items()):
                self.find("HIGH", f"an input under {w.name}/ was changed or removed")
        self._generic(res)
        return res

    def _generic(self, res: Result) -> None:
        if res.note == "killed: memory":
            self.find("HIGH", f"memory bomb: killed past {KILL_MB} MB of anonymous memory")
        elif res.note:
            self.find("MEDIUM", res.note)
        elif res.rc is not None and res.rc < 0:
            self.find("MEDIUM", f"crashed with signal {-res.rc} ({signal.Signals(-res.rc).name})")
        if res.anon_mb > BOMB_MB and not res.note:
            self.find("HIGH", f"memory bomb: {res.anon_mb:.0f} MB anonymous memory")
        text = "\n".join(res.err)
        if "Traceback" in text:
            self.find("MEDIUM", "traceback: " + (res.err[-1][:100] if res.err else ""))
        elif re.search(r"\b(MemoryError|KeyError|RuntimeError|OSError|ValueError|TypeError)\b:|enforce fail", text):
            self.find("LOW", "a Python exception name or C++ assertion in the message")
        for line in res.err:
            paths = re.findall(r"(/[^\s:;,()']+)", line)
            if any(paths.count(p) > 1 for p in set(paths)):
                self.find("LOW", "a path printed twice")
                break
        left = [p for p in self.dir.rglob("*") if TEMP_MARK in p.name]
        if left:
            self.find("MEDIUM", f"temporary file(s) left: {left[0].name}")

    # ------------------------------------------------------------------ judging
    def refused(self, res: Result, needle: str = "", status: int = 2, out: Path | None = None) -> None:
        """A refusal: `status`, one line holding `needle`, no output."""
        if res.rc != status:
            self.find("HIGH" if res.rc == 0 else "MEDIUM", f"exit {res.rc}, expected {status}")
        if len(res.err) != 1:
            self.find(
                "LOW" if len(res.err) > 1 and "Traceback" not in "\n".join(res.err) else "MEDIUM",
                f"{len(res.err)} stderr lines, expected 1",
            )
        elif needle and needle.lower() not in res.err[0].lower():
            self.find("MEDIUM", f"misleading message (no '{needle}'): {res.err[0][:120]}")
        out = out or self.dir / "out"
        if out.exists() and (out.is_file() or any(out.iterdir())):
            self.find("MEDIUM", f"output left by a refused call: {out.name}")

    def succeeded(self, res: Result, outputs: list[Path], lines: int = 0) -> None:
        """A success: exit 0, `lines` stderr lines, every output present, NIfTI outputs finite."""
        if res.rc != 0:
            self.find("MEDIUM", f"exit {res.rc}, expected 0: {(res.err or [''])[-1][:120]}")
            return
        if len(res.err) > lines:
            self.find("LOW", f"{len(res.err) - lines} extra stderr line(s): {res.err[0][:100]}")
        for path in outputs:
            if not path.exists():
                self.find("MEDIUM", f"missing output {path.name}")
            elif path.name.endswith(".nii.gz"):
                self.check_finite(path)

    def check_finite(self, path: Path) -> None:
        import nibabel as nib
        import numpy as np

        data = np.asarray(nib.load(path).dataobj)
        if not np.isfinite(data).all():
            self.find("HIGH", f"{path.name}: {int((~np.isfinite(data)).sum())} non-finite voxels, exit 0")

    def skip(self, why: str) -> None:
        self.skipped = why

    def severity(self) -> str:
        if getattr(self, "skipped", None):
            return "skipped"
        for s in SEVERITIES:
            if any(f[0] == s for f in self.findings):
                return s
        return "clean"


def anon_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _snapshot(folder: Path) -> dict:
    state = {}
    if not folder.exists():
        return state
    for p in sorted(folder.rglob("*")):
        if "cases" in p.relative_to(folder).parts[:1] or p.is_fifo():
            continue
        if p.is_symlink() or p.is_dir():
            state[str(p)] = "link" if p.is_symlink() else "dir"
        elif p.stat().st_size < (64 << 20):
            state[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            state[str(p)] = (p.stat().st_size, p.stat().st_mtime_ns)
    return state


def run_kit_case(name: str, fn, fix: dict, shared: dict, work: Path) -> Kit:
    """Run one case in a fresh folder of its own; a pytest test asserts that `kit.severity()` is clean."""
    folder = work / "cases" / name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "in").mkdir(parents=True)
    kit = Kit(name, folder, fix, shared)
    fn(kit)
    return kit


def assert_clean(kit: Kit) -> None:
    """Skipped with its reason, or clean: no HIGH, MEDIUM or LOW finding."""
    import pytest

    if kit.severity() == "skipped":
        pytest.skip(kit.skipped)
    last = kit.results[-1] if kit.results else Result(None, [], 0, 0, 0)
    found = "; ".join(f"{s}: {n}" for s, n in kit.findings)
    assert kit.severity() == "clean", f"{kit.name}: {found} (exit {last.rc}, stderr {last.err[:3]})"
