"""Evaluation: scoring datasets into metrics, tables, figures and the report."""
