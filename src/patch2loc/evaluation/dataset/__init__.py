"""Scoring one dataset: the scoring jobs (`score_dataset`: maps through the core, per-volume metrics,
lesion rows, patch statistics; `scan_grid`: the scan's own grid; `volume_scores`) and the merge of
their shards (`shards`, `shard_npz`, `pooled`, `tuned_dice`)."""
