"""The figures, one PNG per function, in one style (`style`): ellipses (Fig. 2), densities (`kde`,
Fig. 3 / 6), heatmap panels (`heatmaps`, Fig. 4 / 5), loss curves; `check` reads a finished run's
figures back and fails an empty panel."""
