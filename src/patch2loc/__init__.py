"""Patch2Loc: unsupervised brain-lesion detection by learning where a patch comes from."""

__version__ = "0.1.0"
