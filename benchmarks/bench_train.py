"""Training throughput: the authors' host-side sampling vs patch2loc's device-side sampler.

Same data, same network, same optimizer, one process:
  (a) authors' approach, re-implemented: every step, on the CPU with numpy, one random slice per
      subject (any slice), 4 x n candidate centres uniform over those slices, zero padding,
      advanced-indexing extraction, rejection of patches with < 20% brain, then a copy of the
      batch to the device; fp32. By default the first n accepted patches are kept so both sides
      train on n patches a step (--authors-keep-all keeps every accepted one, as their code does,
      which makes their batches larger and their steps slower; compare patches/s then).
  (b) ours: `PatchSampler` on the device + `train_step`, with each variant of --variants:
      "none" (fp32), "bf16", "fp16" (autocast), with "-cl" appended for channels_last.

CPU (small defaults, < 1 min):   python benchmarks/bench_train.py
GPU, paper sizes:                python benchmarks/bench_train.py --device cuda --subjects 358 \
                                     --shape 192 192 100 --patches 8096 --steps 50 --variants none,bf16,bf16-cl
Prints steps/s, patches/s, ratio b/a and peak memory (GPU: max allocated; CPU: process max RSS,
which only grows, so it is the peak so far).

--before-after times the training step without its speed-ups (plain nn.Conv2d, Adam
without fused) against now (TrimmedConv2d, fused Adam), same sampler, in alternating rounds so
that load from other processes on a shared machine hits both alike; prints both and the ratio.
Add --compile to time torch.compile of the current step as well (compile seconds printed).
  Demo shapes:   python benchmarks/bench_train.py --before-after --shape 64 64 40 --patches 256
  Paper shapes:  python benchmarks/bench_train.py --before-after --shape 192 192 100 --patches 8096 \
                     --subjects 8 --steps 2 --warmup 1 --rounds 2
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from patch2loc.methods.patch2loc.model import Patch2LocNet, TrimmedConv2d
from patch2loc.methods.patch2loc.patch_size import patch_size_for
from patch2loc.methods.patch2loc.sampling import PatchSampler
from patch2loc.checks.devices import resolve_device
from patch2loc.methods.patch2loc.train import TrainConfig, train_step


def synthetic_volumes(n: int, shape: tuple[int, int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random intensities inside an ellipsoidal brain mask (shape matters, content does not)."""
    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1, 1, s, dtype=np.float32) for s in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    mask = (x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.95) ** 2 <= 1
    masks = np.broadcast_to(mask, (n, *shape))
    images = rng.random((n, *shape), dtype=np.float32)
    return images, masks


class AuthorsSampler:
    """Host-side sampling as in the authors' code (rejection of 4 x n uniform candidates)."""

    def __init__(
        self,
        images: np.ndarray,
        masks: np.ndarray,
        patch_size: int,
        min_brain_fraction: float = 0.2,
        keep_all: bool = False,
        seed: int = 0,
    ):
        self.images = images * masks  # the authors multiply by the mask once, at loading
        self.masks = masks
        self.p, self.min_fraction, self.keep_all = patch_size, min_brain_fraction, keep_all
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s_count, h, w, d = self.images.shape
        p, lo, hi = self.p, self.p // 2, self.p - 1 - self.p // 2
        z = self.rng.integers(0, d, s_count)  # one slice per subject, any slice
        subj = np.arange(s_count)
        pad = ((0, 0), (lo, hi), (lo, hi))
        slices = np.pad(self.images[subj, :, :, z], pad)
        brain = np.pad(self.masks[subj, :, :, z], pad)
        k = 4 * n
        cs, cr, cc = self.rng.integers(0, s_count, k), self.rng.integers(0, h, k), self.rng.integers(0, w, k)
        o = np.arange(p)
        idx = (cs[:, None, None], cr[:, None, None] + o[None, :, None], cc[:, None, None] + o[None, None, :])
        keep = brain[idx].mean(axis=(1, 2)) >= self.min_fraction
        if not self.keep_all:
            keep &= np.cumsum(keep) <= n
        patches = slices[idx][keep]
        target = np.stack([100 * cr[keep] / h, 100 * cc[keep] / w], 1).astype(np.float32)
        slice_pos = (100 * z[cs[keep]] / d).astype(np.float32)
        return patches[:, None], target, slice_pos


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (GPU max allocated)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (process max RSS so far)"


def timed(run_step, steps: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        run_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        run_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def new_model(patch_size: int, device: torch.device, cfg: TrainConfig, channels_last: bool):
    torch.manual_seed(0)
    model = Patch2LocNet(patch_size).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    return model.train(), optimizer, scaler


def as_before(model: Patch2LocNet) -> Patch2LocNet:
    """The network without its trimmed convolutions: every TrimmedConv2d back to a plain nn.Conv2d."""
    for m in model.modules():
        if isinstance(m, TrimmedConv2d):
            m.__class__ = torch.nn.Conv2d
    return model


def before_after(images, masks, p: int, args, device: torch.device) -> None:
    """Steps/s before vs after, alternating rounds of args.steps steps each."""
    sampler = PatchSampler(images, masks, p, 0.2, device)
    cfg = TrainConfig(patches_per_step=args.patches, amp="none")
    setups = {}
    for name in ("before", "after") + (("after+compile",) if args.compile else ()):
        torch.manual_seed(0)
        model = Patch2LocNet(p).to(device).train()
        if name == "before":
            as_before(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=name != "before")
        scaler = torch.amp.GradScaler(device.type, enabled=False)
        step_fn = train_step
        if name == "after+compile":
            model = torch.compile(model)
        gen = torch.Generator(device).manual_seed(0)

        def run_step(model=model, optimizer=optimizer, scaler=scaler, gen=gen, step_fn=step_fn):
            step_fn(model, optimizer, scaler, *sampler.sample(args.patches, gen), cfg)

        t0 = time.perf_counter()
        for _ in range(args.warmup):
            run_step()
        print(
            f"{name:14s} warm-up ({args.warmup} steps incl. any compile): {time.perf_counter() - t0:.1f} s", flush=True
        )
        setups[name] = run_step
    seconds = {name: 0.0 for name in setups}
    for r in range(args.rounds):
        for name, run_step in setups.items():
            seconds[name] += timed(run_step, args.steps, 0, device)
    n = args.steps * args.rounds
    rate = {name: n / sec for name, sec in seconds.items()}
    print(
        f"training steps/s at patch {p}, {args.patches} patches/step, {torch.get_num_threads()} thread(s), "
        f"{n} steps each in {args.rounds} alternating rounds:"
    )
    for name, r in rate.items():
        print(
            f"  {name:14s}: {r:8.3f} steps/s ({1 / r:8.2f} s/step) {r * args.patches:9.0f} patches/s  "
            f"ratio to before {r / rate['before']:5.2f}x"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--shape", type=int, nargs=3, default=[64, 64, 20], metavar=("X", "Y", "Z"))
    ap.add_argument("--patches", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--variants", default="none", help="comma list of none|bf16|fp16, optional -cl suffix")
    ap.add_argument("--authors-keep-all", action="store_true")
    ap.add_argument(
        "--before-after",
        action="store_true",
        help="the step with vs without its speed-ups (TrimmedConv2d, fused Adam) only",
    )
    ap.add_argument("--rounds", type=int, default=3, help="--before-after: alternating timing rounds")
    ap.add_argument("--compile", action="store_true", help="--before-after: also time torch.compile")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 on the CPU, where the test machine is shared)",
    )
    ap.add_argument("--tiny", action="store_true", help="two 32 x 32 x 8 subjects, one step: every path in seconds")
    args = ap.parse_args(argv)
    if args.tiny:
        args.subjects, args.shape, args.patches, args.steps, args.warmup, args.rounds = 2, [32, 32, 8], 8, 1, 0, 1
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    device = resolve_device(args.device)
    if args.threads or device.type == "cpu":
        torch.set_num_threads(args.threads or 1)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    shape = tuple(args.shape)
    p = patch_size_for(shape[0])
    print(
        f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
        f"{torch.get_num_threads()} CPU thread(s), {args.subjects} subjects of {shape}, patch {p}, "
        f"{args.patches} patches/step, {args.steps} timed steps"
    )
    t0 = time.perf_counter()
    images, masks = synthetic_volumes(args.subjects, shape)
    print(f"data: {time.perf_counter() - t0:.1f} s")
    if args.before_after:
        before_after(images, masks, p, args, device)
        return

    # (a) authors: host sampling + copy each step, fp32
    cfg = TrainConfig(patches_per_step=args.patches, amp="none")
    authors = AuthorsSampler(images, masks, p, keep_all=args.authors_keep_all)
    model, optimizer, scaler = new_model(p, device, cfg, channels_last=False)
    n_used = []

    def authors_step():
        patches, target, slice_pos = authors.sample(args.patches)
        n_used.append(len(patches))
        batch = [torch.from_numpy(a).to(device) for a in (patches, target, slice_pos)]
        train_step(model, optimizer, scaler, *batch, cfg)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = timed(authors_step, args.steps, args.warmup, device)
    a_steps = args.steps / seconds
    a_patches = sum(n_used[args.warmup :]) / seconds
    print(
        f"(a) authors  fp32     : {a_steps:8.2f} steps/s {a_patches:10.0f} patches/s "
        f"(mean batch {np.mean(n_used[args.warmup :]):.0f}), peak {peak_memory(device)}"
    )
    model = optimizer = scaler = authors = None  # free the authors' variant before ours

    # (b) ours: device sampler, optional autocast / channels_last
    t0 = time.perf_counter()
    sampler = PatchSampler(images, masks, p, 0.2, device)
    print(f"(b) sampler build: {time.perf_counter() - t0:.1f} s")
    gen = torch.Generator(device).manual_seed(0)
    for variant in args.variants.split(","):
        amp, _, cl = variant.partition("-")
        cfg = TrainConfig(patches_per_step=args.patches, amp=amp, channels_last=cl == "cl")
        model, optimizer, scaler = new_model(p, device, cfg, channels_last=cfg.channels_last)
        fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format

        def our_step():
            patches, target, slice_pos = sampler.sample(args.patches, gen)
            train_step(model, optimizer, scaler, patches.contiguous(memory_format=fmt), target, slice_pos, cfg)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = timed(our_step, args.steps, args.warmup, device)
        b_steps = args.steps / seconds
        print(
            f"(b) ours {variant:12s}: {b_steps:8.2f} steps/s {b_steps * args.patches:10.0f} patches/s, "
            f"ratio b/a {b_steps / a_steps:5.2f} (steps) {b_steps * args.patches / a_patches:5.2f} (patches), "
            f"peak {peak_memory(device)}"
        )
        model = optimizer = scaler = None  # free this variant before the next


if __name__ == "__main__":
    main()
