"""Shared start-up of the workflow's script adapters: package path, log file, threads, device."""

import contextlib
import os
import sys
from pathlib import Path


def setup(snakemake, threads: int | None = None):
    """Make `patch2loc` importable from src/, send stdout/stderr to the rule's log, and hold
    SimpleITK and torch to the rule's threads (default: snakemake.threads).

    Without the cap SimpleITK (registration, N4, resampling) uses every core of the node whatever
    the rule asked SLURM for, and torch one thread per core.
    """
    src = Path(snakemake.scriptdir).resolve().parents[1] / "src"
    sys.path.insert(0, str(src))
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        log = open(snakemake.log[0], "w", buffering=1)
        sys.stdout = sys.stderr = log
    threads = threads or getattr(snakemake, "threads", None) or 1
    # Libraries that read these at import time (OpenMP, BLAS) see them too.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ[var] = str(threads)
    _cap_threads(threads)
    print(f"threads: {threads}; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}", flush=True)


def _cap_threads(threads: int) -> None:
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    except ImportError:  # the torch-only env has no SimpleITK
        pass
    # torch reads OMP_NUM_THREADS (set above) when it is first imported, so a rule that imports it
    # later is capped too; importing it here would cost every SimpleITK-only job ~2 s of start-up.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def require_cuda(snakemake) -> None:
    """Device policy (config `device.require_cuda`): stop at once, exit 2, when CUDA is required
    and this env's torch cannot use it, instead of training on the CPU until the time limit."""
    if not snakemake.params.get("require_cuda", False):
        return
    import torch

    if torch.cuda.is_available():
        return
    if torch.version.cuda is None:  # an env made where conda found no GPU driver and no override
        why = (
            "a CPU-only build. Rebuild this env from the CUDA build (envs/torch.yaml asks for pytorch-gpu): "
            f"delete {sys.prefix} and run CONDA_OVERRIDE_CUDA=<the GPU nodes' CUDA, e.g. 12.9> snakemake "
            "--sdm conda --conda-create-envs-only; on a CPU-only site set device.torch_build: cpu and "
            "device.require_cuda: false (docs/cluster.md)"
        )
    else:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)")
        why = (
            f"a CUDA {torch.version.cuda} build that sees no GPU (CUDA_VISIBLE_DEVICES={hidden}): run it on a GPU "
            "node (profiles/slurm/partitions.yaml) or set device.require_cuda: false to run on the CPU"
        )
    message = (
        f"rule {snakemake.rule}: config device.require_cuda is true but torch {torch.__version__} in the env "
        f"{sys.prefix} is {why}."
    )
    print(message, file=sys.stderr, flush=True)
    if sys.stderr is not sys.__stderr__:  # also on the job's own stderr, not only in the log
        print(message, file=sys.__stderr__, flush=True)
    sys.exit(2)


@contextlib.contextmanager
def refusals(snakemake, *kinds):
    """Bad input (patch2loc's InputError) and `kinds` (e.g. a source the registry cannot serve): one line
    in the rule's log and on the job's own stderr, exit 2, instead of a traceback."""
    from patch2loc.errors import InputError

    try:
        yield
    except (InputError, *kinds) as exc:
        message = f"rule {snakemake.rule}: error: {exc}"
        print(message, file=sys.stderr, flush=True)
        if sys.stderr is not sys.__stderr__:  # also on the job's own stderr, not only in the log
            print(message, file=sys.__stderr__, flush=True)
        sys.exit(2)
