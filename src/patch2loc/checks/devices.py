"""Device names given by the user (`--device`, a method block's `device`): checked before any work.

Accepted: `auto` (a CUDA GPU when one is usable, else the CPU), `cpu`, `cuda`, `cuda:N`.
A CUDA name on a machine without a usable GPU is an error that says what is missing, never a
fall-back and never a message about something else (such as the checkpoint).
"""

from __future__ import annotations

import os
import re
import sys

from patch2loc.errors import InputError

DEVICE_NAMES = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(name: str, flag: str = "--device") -> str:
    """Return `name` if it is a usable device here; InputError (one line) otherwise."""
    name = str(name).strip()
    if not DEVICE_NAMES.fullmatch(name):
        raise InputError(f"{flag} {name!r}: unknown device. Use auto, cpu, cuda or cuda:N (N = GPU index).")
    if name.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            if torch.version.cuda is None:
                why = f"this PyTorch ({torch.__version__}) is a CPU-only build"
            else:
                hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
                why = f"PyTorch (built for CUDA {torch.version.cuda}) finds no usable GPU: no NVIDIA driver" + (
                    f", or CUDA_VISIBLE_DEVICES={hidden!r} hides the GPUs" if hidden is not None else ""
                )
            raise InputError(f"{flag} {name}: no CUDA GPU available; {why}. Use {flag} cpu (or auto).")
        index = int(name.split(":")[1]) if ":" in name else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise InputError(
                f"{flag} {name}: this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1}). Pick one of those."
            )
    return name


def resolve_device(name):
    """The one device resolver: a device name (None: auto), checked, -> torch.device (`auto` ->
    cuda when usable, else cpu); a torch.device passes through."""
    import torch

    if isinstance(name, torch.device):
        return name
    name = check_device("auto" if name is None else name, "device")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# What a loaded NVIDIA driver shows on Linux (WSL's GPU: /dev/dxg); without either, CUDA finds no GPU.
DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/dxg")


def no_gpu_driver() -> bool:
    """True on Linux where no NVIDIA driver is loaded: `auto` is then the CPU, torch need not be asked."""
    return sys.platform == "linux" and not any(os.path.exists(p) for p in DRIVER_PATHS)


def auto_device_name() -> str:
    """`auto` resolved to a name ("cuda" or "cpu"); torch is imported only where a GPU may be usable:
    a job that needs no network (Thresh's scoring) starts 3-4 s sooner on a CPU-only site."""
    return "cpu" if no_gpu_driver() else str(resolve_device("auto"))
