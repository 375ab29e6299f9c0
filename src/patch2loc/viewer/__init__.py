"""The heatmap viewer: standalone HTML pages with NiiVue (`pages`: a run's viewers and predict
--html; `template`: the page), and headless Chromium over the DevTools pipe (`browser`: the
viewer's tests, its benchmark, screenshots)."""

from patch2loc.viewer.pages import (
    LIBRARY_NAME,
    SCORE_STEP,
    copy_library,
    niivue_library,
    niivue_version,
    prediction_viewer,
    viewer_from_files,
    write_viewer,
)

__all__ = [
    "LIBRARY_NAME",
    "SCORE_STEP",
    "copy_library",
    "niivue_library",
    "niivue_version",
    "prediction_viewer",
    "viewer_from_files",
    "write_viewer",
]
