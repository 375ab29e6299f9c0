"""The page of the heatmap viewer: HTML, CSS and the JavaScript glue around NiiVue.

`PAGE` has four slots filled by `patch2loc.viewer.pages`: the title, the header line, the
NiiVue script (inline, or a <script src> beside the page) and the viewer's JSON (settings and
the base64 NIfTI volumes). The glue only configures NiiVue: the scan as background, the score
as an overlay whose colours run from 0 to the top of the fixed scale and whose voxels below the
threshold are transparent (NiiVue's colormapType 1), the ground truth as a drawing shown only by
its rim (an outline), three orthogonal slices with NiiVue's linked crosshair, and a readout of
the voxel under the crosshair. `window.p2lViewer` exposes its state to the browser test.
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>@@TITLE@@</title>
<style>
html, body { margin: 0; height: 100%; background: #111; color: #eee;
             font: 14px system-ui, -apple-system, "Segoe UI", sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 6px 12px; display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; }
header h1 { font-size: 15px; margin: 0; font-weight: 600; }
header .meta { color: #aaa; }
label input[type=range] { width: 220px; vertical-align: middle; }
#readout { padding: 2px 12px 6px; font-family: ui-monospace, monospace; min-height: 1.3em; color: #cfc; }
#status { color: #f88; padding: 0 12px; }
#view { flex: 1; position: relative; min-height: 300px; }
#gl { position: absolute; inset: 0; width: 100%; height: 100%; }
.key { display: inline-block; width: 14px; height: 3px; background: #00e5ff; vertical-align: middle; }
button { background: #333; color: #eee; border: 1px solid #555; border-radius: 3px; padding: 2px 8px; }
</style></head>
<body>
<header>
  <h1>@@TITLE@@</h1>
  <span class="meta">@@META@@</span>
  <label>threshold <input id="threshold" type="range"> <output id="threshold-value"></output></label>
  <button id="reset" type="button">run's threshold</button>
  <span class="meta" id="legend"></span>
</header>
<div id="readout">click or drag in a view to move the crosshair</div>
<div id="status"></div>
<div id="view"><canvas id="gl"></canvas></div>
@@LIBRARY@@
<script type="application/json" id="p2l-data">@@DATA@@</script>
<script>
"use strict";
(async function () {
  const P = JSON.parse(document.getElementById("p2l-data").textContent);
  const state = window.p2lViewer = { ready: false, threshold: P.threshold };
  const slider = document.getElementById("threshold");
  const shown = document.getElementById("threshold-value");
  const fmt = (v) => Number(v).toFixed(2);
  const nv = new niivue.Niivue({
    backColor: [0, 0, 0, 1], crosshairColor: [0.25, 1, 0.25, 1], crosshairGap: 6,
    isColorbar: true, show3Dcrosshair: false, logLevel: "error",
    multiplanarShowRender: niivue.SHOW_RENDER.NEVER, dragAndDropEnabled: false,
  });
  state.nv = nv;
  // Every volume is decoded before the first one is shown: once NiiVue draws, each later step
  // waits for its (software-rendered) frames, which made loading the ground truth last 10x slower.
  const load = (base64, name, more) => base64 && niivue.NVImage.loadFromBase64(Object.assign({ base64, name }, more));
  const [scan, score, truth] = await Promise.all([
    load(P.scan, "scan.nii.gz", { colormap: "gray", cal_min: P.scanRange[0], cal_max: P.scanRange[1] }),
    load(P.score, "score.nii.gz", { colormap: P.colormap, cal_min: P.threshold, cal_max: P.range[1] }),
    load(P.seg, "lesion.nii.gz", { cal_min: 0, cal_max: 1 }),
  ]);
  await nv.attachToCanvas(document.getElementById("gl"));
  scan.colorbarVisible = false;
  // Colours from 0 to the top of the scale, voxels below the threshold transparent (in NiiVue
  // 0.68 that is type 2; type 1 fades them in). The browser test checks that they are not coloured.
  score.colormapType = 2;
  nv.addVolume(scan);
  nv.addVolume(score);
  if (truth) {
    // The ground truth as a drawing: drawn only at its rim (an outline), never editable.
    nv.setDrawColormap({ R: [0, 0], G: [0, 229], B: [0, 255], A: [0, 255], I: [0, 1], labels: ["", "lesion"] });
    if (!nv.loadDrawing(truth)) throw new Error("ground truth does not match the scan");
    nv.drawRimOpacity = 1.0;
    nv.setDrawOpacity(0.02);
    nv.setDrawingEnabled(false);
  }
  nv.setSliceType(nv.sliceTypeMultiplanar);
  // The crosshair's width is in world units: keep it about 1.5 screen pixels wide for any voxel
  // and window size (NiiVue rebuilds its crosshair only when it moves, hence the reset).
  const fitCrosshair = () => {
    const tile = nv.screenSlices[0];
    if (!tile) return;
    Object.assign(nv.opts, { crosshairWidthUnit: "mm", crosshairWidth: 1.5 * Math.abs(tile.fovMM[0]) / tile.leftTopWidthHeight[2] });
    nv.crosshairs3D = null;
    nv.drawScene();
  };
  fitCrosshair();
  window.addEventListener("resize", () => setTimeout(fitCrosshair, 50));
  document.getElementById("legend").innerHTML =
    `score on [${P.range[0]}, ${P.range[1]}] (${P.colormap})` + (P.seg ? ', <span class="key"></span> ground truth' : "");
  Object.assign(slider, { min: P.range[0], max: P.range[1], step: P.step, value: P.threshold });
  shown.textContent = fmt(P.threshold);
  const setThreshold = (value) => {
    state.threshold = Number(value);
    score.cal_min = state.threshold;
    shown.textContent = fmt(value);
    nv.updateGLVolume();
  };
  slider.addEventListener("input", () => setThreshold(slider.value));
  document.getElementById("reset").addEventListener("click", () => { slider.value = P.threshold; setThreshold(P.threshold); });
  const readout = document.getElementById("readout");
  // NiiVue's voxel indices are those of its RAS-reoriented copy: the file's own come from that
  // voxel's centre in world space and the inverse of the NIfTI affine.
  const toVoxel = (mm) => P.world2voxel.map((r) => Math.round(r[0] * mm[0] + r[1] * mm[1] + r[2] * mm[2] + r[3]));
  nv.onLocationChange = (where) => {
    const s = where.values[1];
    const v = toVoxel(score.vox2mm(Array.from(s.vox), score.matRAS));
    let text = `voxel (${v.join(", ")})   score ${fmt(s.value)}   scan ${fmt(where.values[0].value)}`;
    if (P.seg) {
      const d = nv.back.dimsRAS, r = nv.frac2vox(nv.scene.crosshairPos);
      text += nv.drawBitmap[r[0] + r[1] * d[1] + r[2] * d[1] * d[2]] ? "   inside the ground truth" : "";
    }
    readout.textContent = text;
    state.location = { voxel: v, score: s.value };
  };
  nv.createOnLocationChange();  // the readout of the starting position
  state.readyMs = performance.now();  // since the navigation started
  state.ready = true;
})().catch((err) => {
  document.getElementById("status").textContent = "The viewer could not start: " + err;
  console.error(err);
});
</script>
</body></html>
"""
