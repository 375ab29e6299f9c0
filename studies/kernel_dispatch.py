"""Which kernels PyTorch picks on this CPU, and which of them change the demo training's numbers
(why two CPU families give two deterministic answers).

    python studies/kernel_dispatch.py results/demo --steps 100

Trains the quick demo's T1 Patch2Loc model for `--steps` steps (fp32, one thread, seed 3141) once
per setting below, each in its own process, and prints per setting: the sha256 of the final weights
(equal to the default's = the setting does not change the numbers here), the largest weight
difference to the default, the seconds taken, and the oneDNN implementations that ran (from
ONEDNN_VERBOSE, e.g. `brg_conv_fwd:avx512_core` vs `jit:avx2`). Settings: the default; oneDNN
limited to an instruction set (ONEDNN_MAX_CPU_ISA); MKL limited (MKL_ENABLE_INSTRUCTIONS); both
as on an AVX512-BF16 AMD EPYC (Zen 4: oneDNN without AMX, MKL's AVX2 path); MKL's conditional
numerical reproducibility (MKL_CBWR); oneDNN switched off (`torch.backends.mkldnn.enabled = False`:
ATen's own convolutions over MKL's GEMM), with MKL_CBWR=COMPATIBLE (the one combination whose
documentation promises the same results on every x86 family); ATen's own vector code limited to
AVX2 (ATEN_CPU_CAPABILITY); two threads.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "default": {},
    "onednn AVX512_CORE": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "onednn AVX512_CORE_BF16": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
    "onednn AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "mkl AVX2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "zen4-like (onednn AVX512_CORE_BF16 + mkl AVX2)": {
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
    "mkl CBWR=AVX2": {"MKL_CBWR": "AVX2"},
    # The candidate for agreement across CPU families: every convolution through MKL's GEMM, and MKL
    # on its reproducible SSE2 path (MKL_CBWR=COMPATIBLE: "the same results on all Intel and
    # compatible processors").
    "onednn off + mkl CBWR=COMPATIBLE": {"PATCH2LOC_MKLDNN_OFF": "1", "MKL_CBWR": "COMPATIBLE"},
    "aten AVX2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "onednn off": {"PATCH2LOC_MKLDNN_OFF": "1"},
    "2 threads": {"OMP_NUM_THREADS": "2"},
}


def _child(run: str, steps: int, out: str) -> None:
    import torch

    if os.environ.get("PATCH2LOC_MKLDNN_OFF"):
        torch.backends.mkldnn.enabled = False
    sys.path.insert(0, str(Path(__file__).parent))
    from seed_grading import load_config, run_scans

    from patch2loc.registry import implementation

    config = load_config(["config/demo.yaml"], [])
    train = {
        **config["patch2loc"],
        "steps": steps,
        "val_every": steps,
        "threads": int(os.environ.get("OMP_NUM_THREADS", 1)),
    }
    pairs = {s: [(i, m) for _, i, m, _ in run_scans(run, config, "IXI", "T1", s, 0)] for s in ("train", "val")}
    start = time.perf_counter()
    implementation("Patch2Loc").train_from_files(
        pairs["train"], pairs["val"], train, out, modality="T1", threads=train["threads"], progress=False
    )
    weights = torch.load(Path(out) / "last.pt", map_location="cpu", weights_only=True)["model"]
    flat = torch.cat([v.flatten().double() for v in weights.values() if v.is_floating_point()])
    torch.save(flat, Path(out) / "flat.pt")
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - start,
                "capability": torch.backends.cpu.get_cpu_capability(),
                "sha256": hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16],
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a finished quick demo run (results/demo)")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.run_dir, args.steps, args.child)
        return 0
    import torch

    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, env) in enumerate(SETTINGS.items()):
            out = Path(tmp, str(i))
            proc = subprocess.run(
                [sys.executable, __file__, args.run_dir, "--steps", str(args.steps), "--child", str(out)],
                env={**os.environ, "OMP_NUM_THREADS": "1", "ONEDNN_VERBOSE": "1", **env},
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            kernels = collections.Counter(
                f"{m.group(1)} {m.group(2)}"
                for m in re.finditer(r"onednn_verbose,(?:[^,\n]*,)*?exec,cpu,(\w+),([^,]+),", proc.stdout)
            )
            flat = torch.load(out / "flat.pt")
            reference = flat if reference is None else reference
            rows.append((name, result, float((flat - reference).abs().max()), kernels))
    print(
        f"{args.steps} training steps of the quick demo's T1 model, fp32, seed 3141; "
        f"ATen capability by default: {rows[0][1]['capability']}"
    )
    for name, result, diff, kernels in rows:
        same = "same as default" if result["sha256"] == rows[0][1]["sha256"] else f"differs (max |dw| {diff:.2e})"
        print(f"- {name}: weights {result['sha256']} {same}; {result['seconds']:.1f} s; ATen {result['capability']}")
        for kernel, n in kernels.most_common(6):
            print(f"    oneDNN {kernel}: {n} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
