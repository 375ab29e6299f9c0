"""Networks and loaders that several methods use: the published ImageNet weights (pretrained),
LPIPS, rebuilding a slice network from its checkpoint, scoring a volume slice by slice."""
