"""The scripts under benchmarks/, studies/ and tools/ as modules for the tests (they are scripts, not a
package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
SCRIPT_FOLDERS = (BENCHMARKS, REPO / "studies", REPO / "tools")


def benchmark_module(name: str) -> ModuleType:
    """{benchmarks,studies,tools}/{name}.py, loaded afresh; its folder on the path, as when it runs as
    a script (the scripts import their neighbours by bare name)."""
    import sys

    path = next(folder / f"{name}.py" for folder in SCRIPT_FOLDERS if (folder / f"{name}.py").is_file())
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_bench_gpu(out: Path, device: str, timeout: int):
    """benchmarks/bench_gpu.py --tiny on `device`, its record written to `out`."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_gpu.py"), "--tiny", "--device", device, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
