"""Tables that compare: methods volume by volume (`paired`), healthy against lesion volumes
(`detection`, Table 4), false positives by IXI group (`bias`; the groups: `patch2loc.data.demographics`)."""
