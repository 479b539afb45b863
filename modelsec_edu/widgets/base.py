"""The two building blocks every widget factory uses."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence

import ipywidgets as w
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class FigurePanel:
    """A matplotlib ``Figure`` (no pyplot, no global state) shown as a PNG image widget."""

    def __init__(self, figsize: tuple[float, float] = (6, 3), *, dpi: int = 80, nrows: int = 1, ncols: int = 1):
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(nrows, ncols, squeeze=False).ravel()
        self.image = w.Image(format="png")
        self._dpi = dpi

    def render(self) -> None:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self._dpi)
        self.image.value = buf.getvalue()


class Panel(w.VBox):
    """Controls above a figure and a one-line status; calls ``update()`` on every change.

    ``update(panel)`` redraws ``panel.fig`` and returns the status text (HTML).
    The time of the last update is kept in ``last_latency`` (seconds), which the
    latency benchmark reads.
    """

    def __init__(
        self,
        controls: Sequence[w.Widget],
        update: Callable[[Panel], str],
        *,
        fig: FigurePanel,
        title: str | None = None,
    ):
        self.controls = list(controls)
        self.fig = fig
        self.status = w.HTML()
        self.last_latency = 0.0
        self._update = update
        header = [w.HTML(f"<b>{title}</b>")] if title else []
        super().__init__(children=[*header, w.HBox(self.controls), self.status, fig.image])
        for c in self.controls:
            c.observe(self._on_change, names="value")
        self.refresh()

    def _on_change(self, _change) -> None:
        self.refresh()

    def refresh(self) -> None:
        start = time.perf_counter()
        self.status.value = self._update(self)
        self.fig.render()
        self.last_latency = time.perf_counter() - start
