"""workflow/scripts/_common.setup: threads capped for every library, without importing torch in
SimpleITK-only jobs (each of the demo's ~150 such jobs paid ~2 s of torch start-up)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"

PROBE = """
import json, sys, types
sys.path.insert(0, {scripts!r})
from _common import setup
smk = types.SimpleNamespace(scriptdir={scripts!r}, log=[], threads={threads})
setup(smk)
before = "torch" in sys.modules
import SimpleITK as sitk
import torch
print(json.dumps({{"torch_imported_by_setup": before, "torch_threads": torch.get_num_threads(),
                  "itk_threads": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()}}))
"""


def _probe(threads: int) -> dict:
    code = PROBE.format(scripts=str(SCRIPTS), threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_setup_caps_threads_without_importing_torch():
    for threads in (1, 2):
        seen = _probe(threads)
        assert seen["torch_imported_by_setup"] is False
        assert seen["torch_threads"] == threads  # from OMP_NUM_THREADS, read when torch is imported
        assert seen["itk_threads"] == threads
