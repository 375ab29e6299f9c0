"""Error types and the one-line wording of failures that are not bad input but still not bugs.

`InputError` is bad input (the CLI prints it as one line, exit 2). `Terminated` is SIGTERM (what
`timeout`, `kill` and SLURM send), raised from the signal handler as a `KeyboardInterrupt`, so
that every cleanup path Ctrl-C takes (staged outputs removed, temporary files deleted) runs for it
too. `resource_problem` turns running out of memory or disk, and other operating-system errors,
into one line instead of a traceback.
"""

from __future__ import annotations

import errno


# The command line's exit statuses (cli/__init__.py).
EXIT_INPUT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells and Snakemake expect after Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BUG = 1


class InputError(ValueError):
    """Bad input: the message names the file and the fix (the CLI prints it as one line, exit 2)."""


class WrongMethod(InputError):
    """A checkpoint of another method than the one asked for; `found` names it (predict suggests it)."""

    def __init__(self, message: str, found: str):
        super().__init__(message)
        self.found = found


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; handled like Ctrl-C (cleanup runs), reported with exit 143."""


def interruption(exc: BaseException | None) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM an exception stands for, if any. torch's C++ checkpoint writer turns an
    interrupt raised inside its Python write callback into a RuntimeError ("unexpected pos"),
    keeping the interrupt only as the error's context: without this it read as a failed write."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


# Texts by which torch and its C++ writer report what the operating system refused.
_OUT_OF_MEMORY = (
    "can't allocate memory",
    "out of memory",
    "DefaultCPUAllocator",
    "CUDA out of memory",
    "Cannot allocate memory",
)
_WRITE_FAILED = ("PytorchStreamWriter failed", "inline_container", "unexpected pos")
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def resource_problem(exc: BaseException, where: str = "", writing: str = "") -> str | None:
    """One line for running out of memory or disk (or another OS error); None for anything else.

    `where` names what was being computed (a scan, an output folder), `writing` what was being
    written, so that the line says what to free or change; the OS's text is shortened to its
    reason (no errno, no path printed twice)."""
    prefix = f"{where}: " if where else ""
    text = str(exc)
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and any(t in text for t in _OUT_OF_MEMORY)):
        return (
            f"{prefix}out of memory. Lower --batch-size (predict) or --patches (train), use a smaller "
            "--median-size / --stride, or run on a machine with more memory."
        )
    target = str(getattr(exc, "filename", None) or writing)
    on = f" writing {target}" if target and target not in prefix else ""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return f"{prefix}no space left on the device{on}; nothing half-written was kept. Free space and rerun."
    if isinstance(exc, RuntimeError) and any(t in text for t in _WRITE_FAILED):
        return (
            f"{prefix}a file could not be written{on} (disk full or a write error); nothing half-written "
            "was kept. Free space and rerun."
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or (text.strip().splitlines() or [type(exc).__name__])[0][:120]
        name = f" ({exc.filename})" if exc.filename and str(exc.filename) not in prefix else ""
        return f"{prefix}{reason}{name}. Check the path, the folder's permissions and the free space."
    return None
