"""ipywidgets factories, one submodule per chapter.

Each factory builds controls and a figure, wires callbacks that call tested
pure functions of the library, draws once, and returns an ``ipywidgets``
widget to display.  Figures are rendered to PNG into an ``ipywidgets.Image``,
so the widgets work the same in JupyterLab, Colab (ipywidgets 7.7) and
headless tests, where setting ``control.value`` re-renders synchronously.

* :mod:`.concepts` -- chapters 01 and 02 (label flips, weight noise, FGSM, the
  gradient walk);
* :mod:`.attacks` -- chapter 03 (attack explorer, accuracy against eps);
* :mod:`.poisoning` -- chapter 04 (backdoor explorer with the detector's view);
* :mod:`.tampering` -- chapter 05 (bit flips live, tamper then verify);
* :mod:`.adversarial_training` -- chapter 06 (robust models side by side).
"""

from .base import BlitFigurePanel, FigurePanel, Panel

__all__ = ["BlitFigurePanel", "FigurePanel", "Panel"]
