"""Dense-heatmap speed: the authors' inference scheme (a) against patch2loc.methods.patch2loc.heatmap (b).

One process, the same weights (random init, or --checkpoint) and the same volume (a synthetic
brain-shaped ellipsoid of --shape, default 192 192 100, or --image/--mask):

(a) the authors' approach, re-implemented: every voxel is a centre; chunks of six slices; the
    patches of a chunk are built by advanced indexing with explicit [H*W, P, P] row/column index
    tensors; the whole network in fp16 autocast on GPU, fp32 on CPU. On the GPU a chunk is one
    forward pass (221,184 patches at 192x192); on the CPU it is split into --authors-batch
    patches per pass (default 512, the fastest fp32 batch on a 2-core EPYC), which leaves the
    values unchanged (BatchNorm in eval mode).
(b) `score_volume`: the region (brain dilated by 3 voxels by default), gathered patches from an
    unfold view, encoder in bf16/fp16 + channels_last, heads in fp32.

Prints patches/s, seconds per volume, achieved TFLOP/s (FLOPs of one forward pass from
torch.utils.flop_counter), peak memory (RSS on CPU, max_memory_allocated on GPU), the speed
ratio, max |score difference| in the brain (raw, and after the 7^3 median + mask), and with
--seg or --synthetic-lesion the AUPRC / best Dice of both maps.

--slices K times only K central brain (or lesion) slices and EXTRAPOLATES to the full volume from the
measured throughput (patches/s x patches the full volume needs); the comparison numbers are
then computed on those K slices only.

    python benchmarks/bench_heatmap.py --slices 2             # CPU, extrapolated
    python benchmarks/bench_heatmap.py --device cuda           # full volume on a GPU
    python benchmarks/bench_heatmap.py --tiny                  # a 32 x 32 x 12 volume, one slice (CI)
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np
import torch

from patch2loc.checks.devices import resolve_device
from patch2loc.methods.patch2loc import heatmap as H
from patch2loc.scoring.metrics import evaluate_volume
from patch2loc.methods.patch2loc.model import Patch2LocNet, load_model
from patch2loc.methods.patch2loc.patch_size import patch_size_for
from patch2loc.scoring import postprocess

from authors_heatmap import authors_scores, synthetic_case


# --------------------------------------------------------------------------- measurement helpers


class PeakMemory:
    """Peak RSS (CPU, sampled every 5 ms) or peak allocated CUDA memory during a block."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.start, self.peak, self._stop = self.rss(), self.rss(), False

            def sample():
                while not self._stop:
                    self.peak = max(self.peak, self.rss())
                    time.sleep(0.005)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop = True
            self._thread.join()

    def describe(self) -> str:
        if self.device.type == "cuda":
            return f"{self.peak / 2**30:.2f} GiB allocated (peak)"
        return f"{self.peak / 2**30:.2f} GiB RSS peak (+{(self.peak - self.start) / 2**30:.2f} GiB during the run)"


def flops_per_patch(model: Patch2LocNet) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    P = model.patch_size
    x = torch.zeros(2, 1, P, P, device=next(model.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, torch.zeros(2, device=x.device))
    return counter.get_total_flops() / 2


# --------------------------------------------------------------------------- (a) the authors' scheme


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(192, 192, 100), metavar=("X", "Y", "Z"))
    ap.add_argument("--checkpoint"), ap.add_argument("--image"), ap.add_argument("--mask")
    ap.add_argument("--seg", help="lesion mask for the AUPRC / best Dice comparison")
    ap.add_argument("--synthetic-lesion", action="store_true", help="add a bright sphere + its seg")
    ap.add_argument("--slices", type=int, help="time only K central slices and extrapolate")
    ap.add_argument("--device", default=None)
    ap.add_argument("--amp", default="auto", help="precision of (b): auto|bf16|fp16|none")
    ap.add_argument("--batch-size", type=int, default=None, help="(b) batch (default 8192 GPU, 2048 CPU)")
    ap.add_argument(
        "--authors-batch",
        type=int,
        default=None,
        help="(a) patches per forward pass (default: whole chunk on GPU, 512 on CPU)",
    )
    ap.add_argument("--region", default="dilated", choices=H.REGIONS)
    ap.add_argument("--skip-authors", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--tiny", action="store_true", help="a 32 x 32 x 12 volume, one slice: every path in seconds")
    args = ap.parse_args(argv)
    if args.tiny:
        args.shape, args.slices = (32, 32, 12), args.slices or 1
    return args


def inputs(args, device):
    """(volume, mask, seg, model): the given scan and checkpoint, or a synthetic case and random weights."""
    if args.image:
        from patch2loc.files.io import load_case

        case = load_case(args.image, args.mask, args.seg)
        volume, mask, seg = case.image.data, case.mask, case.seg
    else:
        volume, mask, seg = synthetic_case(tuple(args.shape), lesion=args.synthetic_lesion)
    if args.checkpoint:
        model, _ = load_model(args.checkpoint, device)
    else:
        torch.manual_seed(0)
        model = Patch2LocNet(patch_size_for(volume.shape[0])).eval()
    return volume, mask, seg, model.to(device)


def timed_slices(mask, seg, count: int | None) -> np.ndarray:
    """Every slice, or `count` central ones (through the lesion where there is one, so the metrics mean something)."""
    brain_slices = np.flatnonzero(mask.any(axis=(0, 1)))
    if seg is not None and seg.any():
        brain_slices = np.flatnonzero(seg.any(axis=(0, 1)))
    if not count:
        return np.arange(mask.shape[2])
    mid = brain_slices[len(brain_slices) // 2]
    return np.arange(mid - count // 2, mid - count // 2 + count)


def report(name, n_done, seconds, n_full, mem, fpp, extrapolated: bool):
    rate = n_done / seconds
    per_volume = n_full / rate
    print(
        f"({name}) {n_done} patches in {seconds:.2f} s: {rate:,.0f} patches/s, "
        f"{per_volume:,.1f} s/volume{' (extrapolated)' if extrapolated else ''}, "
        f"{rate * fpp / 1e12:.3f} TFLOP/s, {mem.describe()}"
    )
    return per_volume, rate


def time_ours(model, volume, mask, region, slices, args, batch, device):
    """(b): the score map, the patches scored, the seconds and the peak memory; a warm-up pass first so
    one-off costs (oneDNN/cuDNN setup) are not timed."""
    warm = np.argwhere(region[:, :, slices[0]])[:256]
    H.predict_at(
        model, volume, mask, np.c_[warm, np.full(len(warm), slices[0])], batch_size=batch, device=device, amp=args.amp
    )
    with PeakMemory(device) as mem:
        t0 = time.perf_counter()
        if args.slices:
            sub = np.zeros_like(region)
            sub[:, :, slices] = region[:, :, slices]
            centres = np.argwhere(sub)
            out = H.predict_at(model, volume, mask, centres, batch_size=batch, device=device, amp=args.amp)
            ours = np.zeros(volume.shape, np.float32)
            ours[tuple(centres.T)] = out["score"]
            n_b = len(centres)
        else:
            res = H.score_volume(model, volume, mask, batch_size=batch, device=device, amp=args.amp, region=args.region)
            ours, n_b = res.score, res.n_patches
        seconds = time.perf_counter() - t0
    return ours, n_b, seconds, mem


def compare(theirs_k, ours, mask, seg, slices, extrapolated: bool) -> None:
    """The two maps' largest difference in the brain, and each one's AUPRC and best Dice where a seg is given."""
    theirs = np.zeros(ours.shape, np.float32)
    theirs[:, :, slices] = theirs_k
    in_brain = np.zeros_like(mask)
    in_brain[:, :, slices] = mask[:, :, slices]
    print(f"max |score(a) - score(b)| in the brain (raw): {np.abs(theirs - ours)[in_brain].max():.4g}")
    if not extrapolated:
        pa, pb = postprocess(theirs, mask), postprocess(ours, mask)
        print(f"max |difference| after median 7 + mask: {np.abs(pa - pb)[mask].max():.4g}")
    else:
        pa, pb = theirs * mask, ours * mask  # the 7^3 median needs neighbouring slices: skipped
    if seg is not None:
        keep = np.zeros_like(mask)
        keep[:, :, slices] = True
        for name, vol in (("a", pa), ("b", pb)):
            m = evaluate_volume(np.where(keep, vol, 0), seg & keep, mask & keep, region="brain")
            print(
                f"({name}) AUPRC {m['auprc']:.4f}, best Dice {m['best_dice']:.4f} ({m['lesion_voxels']} lesion voxels)"
            )


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cpu = device.type == "cpu"
    volume, mask, seg, model = inputs(args, device)
    X, Y, Z = volume.shape
    batch = args.batch_size or (2048 if cpu else 8192)
    authors_batch = args.authors_batch or (512 if cpu else None)
    slices = timed_slices(mask, seg, args.slices)
    region = H.evaluation_region(mask, args.region, 3)
    n_b_full, n_a_full = int(region.sum()), X * Y * Z
    fpp = flops_per_patch(model)
    amp_dtype = H.resolve_amp(args.amp, device)
    print(
        f"device {device} ({torch.get_num_threads()} threads), volume {volume.shape}, patch {model.patch_size}, "
        f"{fpp / 1e6:.1f} MFLOP/patch; (b): region {args.region}, {n_b_full} of {n_a_full} centres, "
        f"encoder {amp_dtype or 'fp32'}, batch {batch}"
    )
    if args.slices:
        print(f"EXTRAPOLATED: timing {len(slices)} slices {slices.tolist()} and scaling by patches per volume")

    ours, n_b, t_b, mem_b = time_ours(model, volume, mask, region, slices, args, batch, device)
    vol_b, rate_b = report("b", n_b, t_b, n_b_full, mem_b, fpp, bool(args.slices))
    if args.skip_authors:
        return

    # (a) the authors' scheme
    authors_scores(model, volume, mask, slices[:1], device, 256)  # warm-up
    with PeakMemory(device) as mem_a:
        t0 = time.perf_counter()
        theirs_k = authors_scores(model, volume, mask, slices, device, authors_batch)
        t_a = time.perf_counter() - t0
    vol_a, rate_a = report("a", X * Y * len(slices), t_a, n_a_full, mem_a, fpp, bool(args.slices))
    print(
        f"speed-up per volume (a)/(b): {vol_a / vol_b:.1f}x  (throughput b/a {rate_b / rate_a:.2f}x, "
        f"centres a/b {n_a_full / n_b_full:.2f}x)"
    )
    compare(theirs_k, ours, mask, seg, slices, bool(args.slices))


if __name__ == "__main__":
    main()
