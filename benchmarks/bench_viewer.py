"""Heatmap viewer: page size and load time on the paper's grid (192x192x100) against the demo's
(64x64x40), measured side by side in one run.

The volume: nilearn's MNI152 T1 resampled onto the grid as the scan; a synthetic heatmap (smoothed
noise around 4, three spherical lesions scoring about 10, then the pipeline's 7^3 median filter
and the brain mask) and the lesions as ground truth. Per grid it prints the page size with NiiVue
inlined (`predict --html`) and beside the page (a run's viewers share one copy), the seconds
Python takes to write the page, and the seconds headless Chromium (WebGL on SwiftShader, no GPU)
takes from the start of navigation to the viewer being ready: median of --repeats loads of the
file:// page. --screenshot saves the paper-grid viewer after a click on a lesion; with --page, a
screenshot of that viewer instead (e.g. one of a finished run), and no benchmark.

    python benchmarks/bench_viewer.py [--repeats 3] [--screenshot docs/viewer.png]
    python benchmarks/bench_viewer.py --screenshot docs/viewer.png --page results/demo/viewers/.../x.html --click 200 300
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from patch2loc.viewer.browser import Chromium, find_chromium
from patch2loc.viewer import LIBRARY_NAME, copy_library, write_viewer

GRIDS = {"paper 192x192x100": (192, 192, 100), "demo 64x64x40": (64, 64, 40)}
THRESHOLD = 6.5


def synthetic_case(shape, seed=0):
    """(scan, heatmap, lesions, affine) on `shape`, the MNI152 brain filling the grid."""
    from nilearn.datasets import load_mni152_template

    mni = load_mni152_template(resolution=1)
    zoom = np.array(shape) / np.array(mni.shape)
    scan = ndimage.zoom(np.asarray(mni.dataobj, np.float32), zoom, order=1)
    brain = scan > 0.2 * scan.max()
    affine = np.array(mni.affine, np.float64)
    affine[:3, :3] /= zoom
    rng = np.random.default_rng(seed)
    score = 4.0 + 3.0 * ndimage.gaussian_filter(rng.normal(size=shape), 1.5)
    grid = np.indices(shape).astype(np.float32)
    lesions = np.zeros(shape, bool)
    for centre, radius in (((0.35, 0.45, 0.6), 0.06), ((0.62, 0.4, 0.55), 0.04), ((0.5, 0.65, 0.45), 0.05)):
        c = (np.array(centre) * shape)[:, None, None, None]
        lesions |= np.sqrt((((grid - c) / np.array(shape)[:, None, None, None]) ** 2).sum(0)) < radius
    lesions &= brain
    score = ndimage.median_filter(np.where(lesions, score + 6.0, score), size=7) * brain
    return scan, score.astype(np.float32), lesions, affine


def load_seconds(browser: Chromium, page: Path) -> float:
    """Navigation start -> viewer ready (the page's own clock), in seconds."""
    browser.open(page)
    browser.wait_for("window.p2lViewer && window.p2lViewer.ready", timeout=300)
    if browser.errors:
        raise RuntimeError(f"{page}: {browser.errors}")
    return browser.evaluate("window.p2lViewer.readyMs") / 1000


def screenshot(browser: Chromium, page: Path, png: Path, clicks: list[tuple[float, float]]) -> None:
    """`page` after clicks at page pixels (each moves the crosshair there)."""
    browser.open(page)
    browser.wait_for("window.p2lViewer && window.p2lViewer.ready", timeout=300)
    for x, y in clicks:
        browser.click(x, y)
        time.sleep(0.3)
    time.sleep(0.5)
    png.write_bytes(browser.screenshot())
    print(f"screenshot: {png}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--screenshot", type=Path, help="PNG of the paper-grid viewer (or of --page)")
    ap.add_argument("--page", type=Path, help="with --screenshot: the viewer to take instead; no benchmark")
    ap.add_argument(
        "--click",
        type=float,
        nargs=2,
        action="append",
        metavar=("X", "Y"),
        help="where to click before the screenshot, repeatable (page pixels of a 1280x720 "
        "window; default: two clicks that put the crosshair on a synthetic lesion)",
    )
    args = ap.parse_args()
    args.click = args.click or [(603, 338), (200, 292)]
    if not find_chromium():
        raise SystemExit("no chromium on PATH (Debian: apt-get install chromium)")
    if args.page:
        with Chromium(width=1280, height=720) as browser:
            screenshot(browser, args.page, args.screenshot, args.click)
        return
    print(f"{platform.processor() or platform.machine()}, {platform.system()}; {args.repeats} loads per page")
    results = {}
    with tempfile.TemporaryDirectory() as tmp, Chromium(width=1280, height=720) as browser:
        library = copy_library(Path(tmp) / LIBRARY_NAME)
        for name, shape in GRIDS.items():
            scan, score, lesions, affine = synthetic_case(shape)
            common = dict(threshold=THRESHOLD, seg=lesions, title=name)  # the two pages differ in the library alone
            t0 = time.perf_counter()
            inline = write_viewer(
                Path(tmp) / f"{shape[0]}_inline.html", scan, score, affine, method="Patch2Loc", **common
            )
            write_s = time.perf_counter() - t0
            beside = write_viewer(
                Path(tmp) / f"{shape[0]}_beside.html", scan, score, affine, library=LIBRARY_NAME, **common
            )
            loads = {
                kind: statistics.median(load_seconds(browser, page) for _ in range(args.repeats))
                for kind, page in (("inline", inline), ("beside", beside))
            }
            results[name] = dict(
                inline_mb=inline.stat().st_size / 1e6,
                beside_mb=beside.stat().st_size / 1e6,
                write_s=write_s,
                **{f"load_{k}_s": v for k, v in loads.items()},
            )
            if args.screenshot and shape == GRIDS["paper 192x192x100"]:
                screenshot(browser, inline, args.screenshot, args.click)
        print(f"library {LIBRARY_NAME}: {library.stat().st_size / 1e6:.2f} MB (once per run's viewers folder)")
    print(f"{'grid':<20}{'inline MB':>10}{'beside MB':>10}{'write s':>9}{'load inline s':>15}{'load beside s':>15}")
    for name, r in results.items():
        print(
            f"{name:<20}{r['inline_mb']:>10.2f}{r['beside_mb']:>10.2f}{r['write_s']:>9.2f}"
            f"{r['load_inline_s']:>15.2f}{r['load_beside_s']:>15.2f}"
        )
    paper, demo = results["paper 192x192x100"], results["demo 64x64x40"]
    print(
        f"paper / demo: data {paper['beside_mb'] / demo['beside_mb']:.1f}x, "
        f"load (inline) {paper['load_inline_s'] / demo['load_inline_s']:.2f}x, "
        f"write {paper['write_s'] / demo['write_s']:.1f}x"
    )


if __name__ == "__main__":
    main()
