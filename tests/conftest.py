"""Suite-wide fixtures."""

import locale

import pytest


@pytest.fixture(autouse=True)
def _restore_locale():
    """GDCM's DICOM writer (used by the DICOM tests to make series) sets the process locale to "C",
    which turns Python's default encoding into ASCII for every later test that decodes UTF-8
    output; each test gets the locale back as it was."""
    saved = locale.setlocale(locale.LC_CTYPE)
    yield
    locale.setlocale(locale.LC_CTYPE, saved)
