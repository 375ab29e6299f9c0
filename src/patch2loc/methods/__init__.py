"""Anomaly-detection methods: one subpackage per method, named by its registry line
(`patch2loc.registry`); what their trainings share is in `patch2loc.training`, the networks and
loaders several of them use in `patch2loc.networks`. Adding a method: docs/architecture.md,
"Adding a method"."""
