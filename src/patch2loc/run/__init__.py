"""A run's files and settings: where they are (layout), the chain's files that predict and export
read (chainfiles), checkpoints, the config blocks as dataclasses (settings), and provenance."""
