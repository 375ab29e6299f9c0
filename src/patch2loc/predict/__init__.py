"""`patch2loc predict`: apply a trained model to a scan (see command.py)."""
from .command import cmd_predict
from .overview import COLOUR_RANGE, overview_png

__all__ = ["cmd_predict", "overview_png", "COLOUR_RANGE"]
