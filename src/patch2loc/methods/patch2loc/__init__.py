"""Patch2Loc: the network, its loss, patch sampling, training and dense heatmaps."""
