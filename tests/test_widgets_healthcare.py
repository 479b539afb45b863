"""Chapter 07's noise explorer, headless: a view of a sweep; the slider moves the marks."""

import math

import pytest

from modelsec_edu.privacy.experiments import DPPoint, DPSweep
from modelsec_edu.widgets import healthcare


def _sweep():
    pts = (
        DPPoint(0.0, math.inf, 0.97, 0.98, 0.52),
        DPPoint(1.0, 6.0, 0.95, 0.95, 0.51),
        DPPoint(2.0, 2.5, 0.93, 0.93, 0.50),
        DPPoint(4.0, 0.9, 0.88, 0.88, 0.50),
    )
    return DPSweep(pts, 8000, 500, 15, 1e-5, "fixed features")


def test_slider_redraws_and_reports_the_run():
    panel = healthcare.noise_explorer(_sweep())
    (slider,) = panel.controls
    first = panel.fig.image.value
    slider.value = 4.0
    assert panel.fig.image.value != first
    assert "0.90" in panel.status.value and "88.0%" in panel.status.value
    assert panel.results["selected"].noise_multiplier == 4.0
    slider.value = 0.0
    assert "no noise" in panel.status.value


def test_bad_inputs():
    with pytest.raises(TypeError, match="DPSweep"):
        healthcare.noise_explorer([1, 2])
    with pytest.raises(ValueError, match="at least one"):
        healthcare.noise_explorer(DPSweep((), 1, 1, 1, 1e-5, "x"))
