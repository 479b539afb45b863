"""Plots for the chapters: image grids with predictions, curves, probability bars.

Each function draws with matplotlib and returns the ``Figure``.  In a notebook
write ``fig = plots.image_grid(...)``: the figure shows once, at the end of the
cell.  Pass ``ax=`` to draw into an existing axes instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_bool, check_float, check_int, check_labels

__all__ = ["accuracy_curves", "history", "image_grid", "probability_bars"]


def _new_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _text(value: Any, name: str) -> str | None:
    """A caption: a ``str`` or ``None``."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, got {type(value).__name__} {value!r}")
    return value


def _as_images(x: Any) -> np.ndarray:
    x = check_array(x, "images", dtype=None, finite=False)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2 and int(np.sqrt(x.shape[1])) ** 2 == x.shape[1]:
        side = int(np.sqrt(x.shape[1]))
        x = x.reshape(len(x), side, side)
    if x.ndim not in (3, 4):
        raise ValueError(f"images must be a batch of images (n, h, w[, c]), got shape {x.shape}")
    return x


def image_grid(
    images: Any,
    *,
    labels: Sequence[int] | None = None,
    preds: Sequence[int] | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = None,
    size: float = 1.2,
):
    """Show a batch of images in a grid, captioned with labels and predictions.

    A caption reads ``y=7`` (label), ``7->3`` (label, then a wrong prediction,
    in red) or ``7`` in green when the prediction is right.
    """
    import matplotlib.pyplot as plt

    x = _as_images(images)
    n = len(x)
    labels = None if labels is None else check_labels(labels, "labels", n=n)
    preds = None if preds is None else check_labels(preds, "preds", n=n)
    ncols = min(check_int(ncols, "ncols", min=1), n)
    size = check_float(size, "size", min=0, min_open=True)
    title = _text(title, "title")
    vmin = None if vmin is None else check_float(vmin, "vmin")
    vmax = None if vmax is None else check_float(vmax, "vmax")
    nrows = int(np.ceil(n / ncols))
    if vmax is None:
        vmax = 255.0 if x.dtype == np.uint8 else 1.0
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0))
    )
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(x[i], cmap=cmap, vmin=vmin, vmax=vmax)
        if labels is not None and preds is not None:
            ok = int(labels[i]) == int(preds[i])
            text = f"{int(labels[i])}" if ok else f"{int(labels[i])}\u2192{int(preds[i])}"
            ax.set_title(text, fontsize=9, color="green" if ok else "red")
        elif preds is not None:
            ax.set_title(f"pred {int(preds[i])}", fontsize=9)
        elif labels is not None:
            ax.set_title(f"y={int(labels[i])}", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_curves(
    xs: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "\u03b5",
    ylabel: str = "accuracy",
    title: str | None = None,
    ax=None,
    percent: bool = True,
):
    """Plot several accuracy curves against one x-axis (e.g. accuracy against eps)."""
    xs = check_array(xs, "xs", ndim=1, dtype="float64")
    if not isinstance(curves, Mapping):
        raise TypeError(
            f"curves must map names to sequences of values, got {type(curves).__name__}"
        )
    if not curves:
        raise ValueError("curves must name at least one curve, got none")
    percent = check_bool(percent, "percent")
    xlabel, ylabel, title = (
        _text(v, n) for v, n in ((xlabel, "xlabel"), (ylabel, "ylabel"), (title, "title"))
    )
    fig, ax = _new_axes(ax, (5.5, 3.5))
    scale = 100.0 if percent else 1.0
    for name, ys in curves.items():
        ys = check_array(ys, "curves", dtype="float64", finite=False)  # NaN: a gap in the curve
        if ys.shape != xs.shape:
            raise ValueError(f"curves: {name!r} has {ys.size} points for {xs.size} x values")
        ax.plot(xs, ys * scale, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (%)" if percent else ylabel)
    ax.set_ylim(-2 if percent else -0.02, 102 if percent else 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def history(hist: Any, *, metrics: Sequence[str] = ("loss", "accuracy"), ax=None):
    """Plot training curves from a Keras ``History`` (or its ``.history`` dict)."""
    logs = getattr(hist, "history", hist)
    if not isinstance(logs, Mapping):
        raise TypeError(
            f"hist must be a keras History or a dict of lists, got {type(hist).__name__}"
        )
    import matplotlib.pyplot as plt

    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise TypeError(f"metrics must be a sequence of names such as ('loss',), got {metrics!r}")
    shown = [m for m in metrics if m in logs]
    if not shown:
        raise ValueError(
            f"metrics: none of {list(metrics)} is in the history (it has {sorted(logs)})"
        )
    if ax is None:
        fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.2))
        axes = np.atleast_1d(axes)
    else:
        fig, axes = ax.figure, np.atleast_1d(ax)
    for m, a in zip(shown, axes):
        epochs = np.arange(1, len(logs[m]) + 1)
        a.plot(epochs, logs[m], marker="o", label=f"train {m}")
        if f"val_{m}" in logs:
            a.plot(epochs, logs[f"val_{m}"], marker="s", label=f"test {m}")
        a.set_xlabel("epoch")
        a.set_ylabel(m)
        a.grid(alpha=0.3)
        a.legend()
    fig.tight_layout()
    return fig


def probability_bars(probs: Any, *, label: int | None = None, ax=None, title: str | None = None):
    """Bar chart of one prediction's class probabilities; the true class in green."""
    p = check_array(probs, "probs", dtype="float64").ravel()
    if np.any(p < 0) or np.any(p > 1):
        raise ValueError(
            f"probs must be probabilities in [0, 1], got values from {p.min():g} to {p.max():g}"
        )
    if label is not None:
        label = check_int(label, "label", min=0, max=len(p) - 1)
    title = _text(title, "title")
    fig, ax = _new_axes(ax, (4, 2.5))
    colors = [
        "tab:green" if label is not None and i == label else "tab:blue" for i in range(len(p))
    ]
    ax.bar(np.arange(len(p)), p, color=colors)
    ax.set_xticks(np.arange(len(p)))
    ax.set_ylim(0, 1)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    if title:
        ax.set_title(title)
    return fig
