"""`patch2loc bids`: a BIDS App around `patch2loc predict` (see command.py)."""
