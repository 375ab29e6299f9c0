"""Command line: `patch2loc train`, `patch2loc predict`, `patch2loc export` and `patch2loc bids`.

Bad input (unreadable or mismatched files, empty masks, NaNs, unusable checkpoints, flag values
out of range) prints one line naming the file (or flag) and the fix to stderr and exits with
status 2, and so does running out of memory or disk; outputs are checked against the inputs before
any compute and written atomically, so a failed run leaves no output behind and never touches an
input. Ctrl-C prints one line and exits with 130, SIGTERM (timeout, kill, SLURM) likewise with
143. Anything else is a bug: one line saying so (PATCH2LOC_DEBUG=1 shows the traceback), exit 1.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import sys
import threading
import warnings

from patch2loc.cli.parser import build_parser
from patch2loc.errors import (
    EXIT_BUG,
    EXIT_INPUT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    InputError,
    Terminated,
    resource_problem,
)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings on the command line: one line each (Python adds the source line of the call)."""
    return f"patch2loc: warning: {message}\n"


def _end_progress_bars() -> None:
    """Close the progress bars an error left open, so that the error starts a line of its own
    (a bar ends its line only when it is closed)."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or ()):
        try:
            bar.close()
        except Exception:  # a bar half torn down: the newline is all that matters
            pass


def _train_resume_hint(out: str) -> str:
    """What an interrupted `train` can do next: resume only where a checkpoint was written."""
    last = Path(out or ".") / "last.pt"
    if last.is_file():
        return f"rerun the same command to resume from {last} (the last checkpoint)"
    return f"no checkpoint was written yet ({last} does not exist): rerun the same command to start over"


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT_ERROR
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    say = f"patch2loc {args.command}"
    try:
        return args.func(args)
    except InputError as exc:
        _end_progress_bars()
        print(f"{say}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated): the staged outputs are gone
        after = {
            "train": _train_resume_hint(getattr(args, "out", "")),
            "predict": "the scan in progress was not written (finished scans were)",
            "export": f"nothing was written to {getattr(args, 'out', '--out')}",
        }.get(args.command, "its outputs were not written")
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
        _end_progress_bars()
        print(f"{say}: {how}; {after}.", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except Exception as exc:  # out of memory or disk: one line; anything else is a bug
        _end_progress_bars()
        line = resource_problem(exc, str(getattr(args, "out", "")))
        if line is not None:
            print(f"{say}: error: {line}", file=sys.stderr)
            return EXIT_INPUT_ERROR
        if os.environ.get("PATCH2LOC_DEBUG"):
            raise
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        print(
            f"{say}: error: unexpected {type(exc).__name__}: {detail} (a bug in patch2loc: rerun with "
            "PATCH2LOC_DEBUG=1 for the traceback and report it).",
            file=sys.stderr,
        )
        return EXIT_BUG
    finally:
        if in_main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)
