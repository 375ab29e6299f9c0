"""Anomaly-detection methods: each trains per (modality, fold), or not at all, and scores a normalised volume."""
