"""one_itk_thread: SimpleITK on one thread inside the block, the caller's setting restored after."""

from __future__ import annotations

import pytest
import SimpleITK as sitk

from patch2loc.preprocessing.corrections import one_itk_thread


def test_one_thread_inside_and_the_callers_setting_after_even_on_error():
    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(3)
    try:
        with pytest.raises(RuntimeError):
            with one_itk_thread():
                assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == 1
                raise RuntimeError("boom")
        assert sitk.ProcessObject.GetGlobalDefaultNumberOfThreads() == 3
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)
