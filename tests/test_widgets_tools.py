"""Chapter 10's threat picker, headless: each control changes the picture and the count."""

import re

from modelsec_edu import outlook
from modelsec_edu.widgets import tools


def _count(panel) -> int:
    return int(re.match(r"(\d+) of", panel.status.value).group(1))


def test_every_control_changes_the_picture_and_the_count_follows_applicable():
    panel = tools.threat_picker()
    assert _count(panel) == len(outlook.applicable())
    for control, pick in zip(panel.controls, ("goal", "knowledge", "capability")):
        png = panel.fig.image.value
        control.value = control.options[1]
        # a filter that keeps the same first eight attacks still draws another picture
        assert panel.fig.image.value != png, f"{control.description} did not change the picture"
        picks = {
            name: (None if c.value == tools.ANY else c.value)
            for name, c in zip(("goal", "knowledge", "capability"), panel.controls)
        }
        assert _count(panel) == len(outlook.applicable(**picks)), pick
        control.value = tools.ANY
