"""Widget for chapter 00 (start here): look through the data the course found.

:func:`class_summary` is the pure part (counts and the mean image of each
class, a small typed result); :func:`data_explorer` only shows it: pick a
class and a page, and see its images, its mean image and how many there are.
Used in chapter 00.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np

from modelsec_edu.validation import check_int, check_xy

from .base import FigurePanel, Panel

__all__ = ["ClassSummary", "class_summary", "data_explorer"]

PER_PAGE = 12


@dataclass(frozen=True)
class ClassSummary:
    """Per class: how many images (``counts``) and their mean image (``means``, NaN-free)."""

    counts: np.ndarray
    means: np.ndarray


def _images(x: Any, y: Any, num_classes: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Grey images ``(n, h, w[, 1])`` as ``(n, h, w)``, their labels, and the class count."""
    num_classes = check_int(num_classes, "num_classes", min=1)
    x, y = check_xy(x, y, num_classes=num_classes, ndim=(3, 4))
    return (x[..., 0] if x.ndim == 4 else x), y, num_classes


def class_summary(x: Any, y: Any, *, num_classes: int = 10) -> ClassSummary:
    """Count the images of each class and average them (a class with no image gets zeros)."""
    x, y, num_classes = _images(x, y, num_classes)
    counts = np.bincount(y, minlength=num_classes)
    means = np.zeros((num_classes, *x.shape[1:]), dtype="float32")
    for k in np.flatnonzero(counts):
        means[k] = x[y == k].mean(axis=0)
    return ClassSummary(counts=counts, means=means)


def data_explorer(x: Any, y: Any, *, num_classes: int = 10) -> Panel:
    """Browse the images of one class at a time, with the class's mean image and its count.

    The class menu and the page slider both redraw the figure; a class with
    fewer images than one page disables the slider.
    """
    x, y, num_classes = _images(x, y, num_classes)
    summary = class_summary(x, y, num_classes=num_classes)
    choice = w.Dropdown(
        options=list(range(len(summary.counts))), value=int(y[0]), description="class"
    )
    page = w.IntSlider(value=0, min=0, max=0, description="page", continuous_update=False)
    fig = FigurePanel((7.5, 2.6), ncols=PER_PAGE // 2 + 1, nrows=2)

    def update(panel: Panel) -> str:
        k = int(choice.value)
        idx = np.flatnonzero(y == k)
        pages = max(1, int(np.ceil(len(idx) / PER_PAGE)))
        page.max = pages - 1
        page.disabled = pages == 1
        shown = idx[page.value * PER_PAGE : (page.value + 1) * PER_PAGE]
        axes = fig.axes.reshape(2, -1)
        for ax in fig.axes:
            ax.clear()
            ax.axis("off")
        axes[0, 0].imshow(summary.means[k], cmap="magma", vmin=0, vmax=1)
        axes[0, 0].set_title("mean", fontsize=8)
        cells = [ax for r in range(2) for ax in axes[r, 1:]]
        for ax, i in zip(cells, shown, strict=False):
            ax.imshow(x[i], cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"#{i}", fontsize=7)
        fig.figure.suptitle(f"class {k}: page {page.value + 1} of {pages}", fontsize=9)
        share = summary.counts[k] / summary.counts.sum()
        return f"class {k}: <b>{summary.counts[k]}</b> images ({share:.1%} of {len(y)})"

    panel = Panel([choice, page], update, fig=fig, title="The data, class by class")
    panel.results = {"counts": summary.counts}
    return panel
