"""Anomaly-detection methods: one subpackage or module per method, named by its registry line
(`patch2loc.registry`), plus what their trainings share (harness, resume, training data, slices).
Adding a method: docs/architecture.md, "Adding a method"."""
