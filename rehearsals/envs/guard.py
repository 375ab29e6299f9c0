"""Import guard of the env rehearsal, installed into each rehearsal env (a `.pth` file imports it at
start-up). Active only in a script that Snakemake's preamble starts.

The preamble appends the host interpreter's whole sys.path (Snakemake needs its own package to
unpickle the `snakemake` object), so a package missing from the env would load from the host.
Once the preamble's line has run, the guard removes every import path outside the env, the
interpreter's standard library and the paths named in P2L_ENV_ALLOW (the repository's src/ and
workflow/scripts/), and forgets the modules loaded from elsewhere but Snakemake's own; Snakemake's
modules stay importable. At exit it writes what the job imported from where into
P2L_ENV_RECORD/<pid>-*.json. P2L_ENV_GUARD=off leaves a job as Snakemake starts it.
"""

import atexit
import importlib.machinery
import json
import os
import sys
import sysconfig
import tempfile

MARK = "######## snakemake preamble end"
OWN = ("snakemake", "snakemake_interface", "p2l_env_guard", "__main__", "__mp_main__")
_state = {"active": False, "removed": [], "purged": []}


def _roots():
    paths = sysconfig.get_paths()
    roots = {sys.prefix, paths["stdlib"], paths["platstdlib"], _state["script_dir"]}
    roots |= {p for p in os.environ.get("P2L_ENV_ALLOW", "").split(os.pathsep) if p}
    return [os.path.realpath(r) for r in roots]


def _allowed(path):
    if not os.path.isabs(path or ""):  # torch.ops, torch.classes: namespaces that name no file
        return True
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in _state["roots"])


def _own(name):
    return name.split(".")[0].startswith(OWN)


class _SnakemakeOnly:
    """Finds Snakemake's own modules on the removed host paths (its lazy imports); nothing else."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if not _own(name) or path is not None:
            return None
        return importlib.machinery.PathFinder.find_spec(name, _state["removed"])


def _switch():
    _state["roots"] = _roots()
    _state["removed"] = [p for p in sys.path if not _allowed(p)]
    sys.path[:] = [p for p in sys.path if _allowed(p)]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and not _allowed(file) and not _own(name):
            _state["purged"].append(name)
            del sys.modules[name]
    sys.meta_path.insert(0, _SnakemakeOnly)


def _tracer(end_line, names):
    def local(frame, event, arg):
        if event == "line" and frame.f_lineno > end_line:
            sys.settrace(None)
            frame.f_trace = None
            _switch()
            return None
        return local

    def calls(frame, event, arg):
        if event == "call" and frame.f_code.co_filename in names:
            return local
        return None

    return calls


def _record():
    out = os.environ.get("P2L_ENV_RECORD")
    if not out:
        return
    main = sys.modules.get("__main__")
    smk = getattr(main, "snakemake", None)
    outside = sorted(
        name
        for name, module in list(sys.modules.items())
        if getattr(module, "__file__", None) and not _own(name) and not _allowed(module.__file__)
    )
    record = {
        "pid": os.getpid(),
        "rule": getattr(smk, "rule", None),
        "env": sys.prefix,
        "guarded": "roots" in _state,
        "removed_paths": _state["removed"],
        "purged": _state["purged"],
        "outside": outside,
    }
    os.makedirs(out, exist_ok=True)
    fd, _ = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=".json", dir=out)  # PIDs come round again
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)


def _start():
    if os.environ.get("P2L_ENV_GUARD") == "off":  # the removal checks' control: the host's paths stay
        return
    argv = getattr(sys, "orig_argv", sys.argv)
    script = next((a for a in argv[1:] if a.endswith(".py")), None)
    if not script or not os.path.isfile(script):
        return
    with open(script, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    end = next((i + 1 for i, line in enumerate(lines) if line.startswith(MARK)), None)
    if end is None:
        return
    _state["active"] = True
    _state["script_dir"] = os.path.dirname(os.path.abspath(script))
    sys.settrace(_tracer(end, {script, os.path.abspath(script), os.path.realpath(script)}))
    atexit.register(_record)


_start()
