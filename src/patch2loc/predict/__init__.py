"""`patch2loc predict`: apply a trained model to a scan (the driver: driver.py; the command: cli/predict.py)."""

from patch2loc.predict.driver import predict
from patch2loc.predict.overview import COLOUR_RANGE, overview_png

__all__ = ["predict", "overview_png", "COLOUR_RANGE"]
