"""Chapter 08's widget, headless: set a control's value and check the view and the numbers."""

import numpy as np
import pytest

from modelsec_edu.extraction import BudgetSweep, RoundingSweep
from modelsec_edu.widgets import finance


@pytest.fixture
def results():
    sweep = BudgetSweep(
        budgets=np.array([100, 500, 2000]),
        agreement=np.array([0.8, 0.9, 0.93]),
        suspicion=np.linspace(-3, -2, 2000),
        threshold=-2.5,
        alarm_at=1000,
    )
    rounding = RoundingSweep((None, 2), np.array([1e-15, 0.1]), np.array([1.0, 0.97]))
    return sweep, rounding


def test_the_explorer_shows_what_the_results_hold(results):
    panel = finance.extraction_explorer(*results)
    assert bytes(panel.fig.image.value).startswith(b"\x89PNG")
    assert "2000 queries" in panel.status.value and "93.0%" in panel.status.value
    assert "before the budget ran out" in panel.status.value
    png = panel.fig.image.value
    panel.controls[0].value = 500
    assert panel.fig.image.value != png
    assert "90.0%" in panel.status.value and "after this budget" in panel.status.value
    panel.controls[1].value = "2 decimals"
    assert "0.1" in panel.status.value and "97.0%" in panel.status.value


def test_the_explorer_refuses_other_results():
    with pytest.raises(TypeError):
        finance.extraction_explorer({"budgets": [1]}, None)
