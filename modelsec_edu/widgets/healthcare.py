"""Widgets for chapter 07 (healthcare): the noise multiplier of DP-SGD, as a view of a sweep.

The factory takes a :class:`modelsec_edu.privacy.experiments.DPSweep` that the
library computed (one DP-SGD run per noise multiplier) and only redraws: no
training inside.  Moving the slider marks one run on two curves, ε against
test accuracy and ε against the membership attack's AUC, and prints its
figures.  **Threat model:** the membership attacker of
:mod:`modelsec_edu.privacy.membership`; DP-SGD after Abadi et al. 2016
(https://arxiv.org/abs/1607.00133).
"""

from __future__ import annotations

import math

import ipywidgets as w
import numpy as np

from modelsec_edu.privacy.experiments import DPSweep

from .base import BlitFigurePanel, Panel

__all__ = ["noise_explorer"]


def _eps_axis(points) -> np.ndarray:
    """ε for plotting: an infinite ε (no noise) is drawn at twice the largest finite one."""
    eps = np.array([p.epsilon for p in points], dtype=float)
    finite = eps[np.isfinite(eps)]
    top = 2 * finite.max() if finite.size else 1.0
    return np.where(np.isfinite(eps), eps, top)


def noise_explorer(sweep: DPSweep, *, title: str | None = None) -> Panel:
    """A slider over the sweep's noise multipliers; marks that run on ε-accuracy, ε-AUC curves."""
    if not isinstance(sweep, DPSweep):
        raise TypeError(f"sweep must be a DPSweep, got {type(sweep).__name__}")
    if not sweep.points:
        raise ValueError("sweep must hold at least one run")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    points = sorted(sweep.points, key=lambda p: p.noise_multiplier)
    sigmas = [p.noise_multiplier for p in points]
    eps = _eps_axis(points)
    slider = w.SelectionSlider(
        options=[(f"{s:g}", s) for s in sigmas],
        value=sigmas[len(sigmas) // 2],
        description="noise \u03c3",
        continuous_update=False,
    )
    fig = BlitFigurePanel((9.0, 3.2), ncols=2)  # the curves are drawn once, the marks move
    ax_acc, ax_auc = fig.axes
    order = np.argsort(eps)
    ax_acc.plot(eps[order], [points[i].accuracy for i in order], "o-", color="tab:blue")
    ax_auc.plot(eps[order], [points[i].mia_auc for i in order], "o-", color="tab:red")
    ax_auc.axhline(0.5, color="grey", lw=0.8, ls=":")
    for ax, label in ((ax_acc, "test accuracy"), (ax_auc, "membership AUC (loss attack)")):
        ax.set_xscale("log")
        ax.set_xlabel(f"\u03b5 (\u03b4 = {sweep.delta:g}); no-noise run drawn at the right")
        ax.set_ylabel(label)
    fig.figure.suptitle(f"DP-SGD, linear head on {sweep.features} ({sweep.n} records)")
    fig.figure.tight_layout()
    mark_acc = ax_acc.plot([], [], "s", ms=11, mfc="none", mec="k", mew=2)[0]
    mark_auc = ax_auc.plot([], [], "s", ms=11, mfc="none", mec="k", mew=2)[0]
    fig.animate(mark_acc, mark_auc)

    def update(panel: Panel) -> str:
        i = sigmas.index(slider.value)
        p = points[i]
        mark_acc.set_data([eps[i]], [p.accuracy])
        mark_auc.set_data([eps[i]], [p.mia_auc])
        e = "\u221e (no noise)" if math.isinf(p.epsilon) else f"{p.epsilon:.2f}"
        panel.results["selected"] = p
        return (
            f"\u03c3 = {p.noise_multiplier:g}: \u03b5 = {e}, test accuracy {p.accuracy:.1%} "
            f"(train {p.train_accuracy:.1%}), membership AUC {p.mia_auc:.3f}"
        )

    return Panel(
        [slider], update, fig=fig, title=title or "DP-SGD: noise against privacy and accuracy"
    )
