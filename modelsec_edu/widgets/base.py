"""The building blocks every widget factory uses: a figure panel (plain or blitted) and a Panel."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class FigurePanel:
    """A matplotlib ``Figure`` (no pyplot, no global state) shown as a PNG image widget."""

    def __init__(
        self,
        figsize: tuple[float, float] = (6, 3),
        *,
        dpi: int = 80,
        nrows: int = 1,
        ncols: int = 1,
    ):
        self.figure = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(nrows, ncols, squeeze=False).ravel()
        self.image = w.Image(format="png")
        self._dpi = dpi

    def natural_width(self) -> int:
        """The picture's width in pixels: the figure's width times its dpi."""
        return int(round(self.figure.get_figwidth() * self._dpi))

    def _show(self, png: bytes) -> None:
        # Shown at its natural size: a VBox would stretch it to the output's width (soft, up to 2x);
        # max_width lets a narrow window shrink it instead of cutting it off.
        width = f"{self.natural_width()}px"
        if self.image.layout.width != width:
            self.image.layout.width = width
            self.image.layout.max_width = "100%"
            self.image.layout.height = "auto"
        self.image.value = png

    def render(self) -> None:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self._dpi)
        self._show(buf.getvalue())


class BlitFigurePanel(FigurePanel):
    """A :class:`FigurePanel` that draws its static parts once and then only the artists that move.

    Agg can save the rendered background and draw single artists over it; axes,
    ticks and labels, the bulk of a redraw, are then not drawn again.  Declare
    the moving artists with :meth:`animate` (in drawing order) and keep axis
    limits fixed after the first render.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._moving: list[Any] = []
        self._background = None

    def animate(self, *artists: Any) -> None:
        for artist in artists:
            artist.set_animated(True)
            self._moving.append(artist)

    def render(self) -> None:
        from PIL import Image

        canvas = self.figure.canvas
        if self._background is None:
            canvas.draw()  # everything except the animated artists
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buf, format="png", compress_level=1)
        self._show(buf.getvalue())


class Panel(w.VBox):
    """Controls above a figure and a one-line status; calls ``update()`` on every change.

    ``update(panel)`` redraws ``panel.fig`` and returns the status text (HTML).
    The time of the last update is kept in ``last_latency`` (seconds), which the
    latency benchmark reads.  Factories that measure something up front (one
    model per slider stop, say) leave it in ``results`` for the notebook to print.
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
        self.results: dict = {}
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
