"""PHANES (Bercea et al., MICCAI 2023): the parts that do not depend on RA (docs/phanes.md)."""
