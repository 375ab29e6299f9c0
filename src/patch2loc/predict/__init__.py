"""`patch2loc predict`: apply a trained model to a scan (see command.py)."""

from patch2loc.predict.command import cmd_predict
from patch2loc.predict.overview import COLOUR_RANGE, overview_png

__all__ = ["cmd_predict", "overview_png", "COLOUR_RANGE"]
