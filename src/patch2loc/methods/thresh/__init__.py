"""Thresh: the normalised intensity as the anomaly score (nothing trained)."""
