"""Patch-level analysis of the heatmaps (paper §5.2): which patches are normal or abnormal
(`classes`), their statistics (`statistics`) and the chunked reading the figures use (`stream`)."""
