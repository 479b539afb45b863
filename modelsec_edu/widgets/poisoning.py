"""Chapter 04's widget (data poisoning): the backdoor explorer and its detector's view.

A view only.  The experiment, one model per setting, is
:func:`modelsec_edu.poisoning.backdoor_sweep`, which returns a typed
:class:`~modelsec_edu.poisoning.BackdoorSweep`; the explorer shows that result and moves
through its measured grid instantly.  Nothing is trained here.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from modelsec_edu.poisoning import BackdoorSweep, add_trigger

from .base import FigurePanel, Panel

__all__ = ["backdoor_explorer"]

_POISON = [0.85, 0.1, 0.1, 0.9]
_CLEAN = [0.5, 0.5, 0.5, 0.35]


def _controls(sweep: BackdoorSweep) -> list[w.Widget]:
    rate = w.SelectionSlider(
        options=[(f"{r:.2%}", r) for r in sweep.rates],
        value=sweep.rates[0],
        description="poisoned",
        continuous_update=False,
    )
    size = w.Dropdown(
        options=list(sweep.sizes), description="trigger size", layout=w.Layout(width="180px")
    )
    position = w.Dropdown(
        options=list(sweep.positions), description="position", layout=w.Layout(width="220px")
    )
    target = w.Dropdown(
        options=list(sweep.targets), description="target", layout=w.Layout(width="150px")
    )
    controls = [rate, size, position, target]
    for control in controls:
        control.disabled = len(control.options) < 2  # a single choice cannot change the picture
    return controls


def backdoor_explorer(sweep: BackdoorSweep) -> Panel:
    """Poisoning rate, trigger size and position, target class: ASR, clean accuracy, detection.

    Shows a :class:`~modelsec_edu.poisoning.BackdoorSweep` (from
    :func:`modelsec_edu.poisoning.backdoor_sweep`): a triggered test input, ASR and clean
    accuracy along the sweep's rates for the chosen trigger, and the detector's view, the
    target class's training features in 2-D with the poisons in red and a black ring around
    what activation clustering flagged.  A control with a single choice is disabled.
    """
    if not isinstance(sweep, BackdoorSweep):
        raise TypeError(
            f"sweep must be a BackdoorSweep (from poisoning.backdoor_sweep), "
            f"got {type(sweep).__name__}"
        )
    controls = _controls(sweep)
    rate_c, size_c, pos_c, target_c = controls
    rates = np.array(sweep.rates)
    log_x = rates.min() > 0
    fig = FigurePanel((11, 3.2), ncols=3)
    ax_img, ax_curve, ax_feat = fig.axes
    img = ax_img.imshow(np.squeeze(sweep.sample), cmap="gray", vmin=0, vmax=1)
    ax_img.axis("off")
    ax_img.set_title("a triggered test input", fontsize=9)
    (asr_line,) = ax_curve.plot([], [], marker="o", color="tab:red", label="ASR")
    (acc_line,) = ax_curve.plot([], [], marker="s", color="tab:blue", label="clean accuracy")
    (here,) = ax_curve.plot([], [], marker="o", markersize=13, mfc="none", mec="black", ls="none")
    ax_curve.axhline(
        sweep.unpoisoned_accuracy * 100, ls=":", color="tab:blue", label="unpoisoned model"
    )
    xs = rates * 100
    if log_x:
        ax_curve.set_xscale("log")
        ax_curve.set_xlim(xs.min() / 1.5, xs.max() * 1.5)
    else:
        ax_curve.set_xlim(-0.05 * xs.max() - 0.1, xs.max() * 1.05 + 0.1)
    ax_curve.set_xlabel("training set poisoned (%)")
    ax_curve.set_ylim(0, 102)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=7, loc="lower right")
    scat = ax_feat.scatter([], [], s=9)
    ax_feat.set_title("target class features (PCA)", fontsize=9)
    ax_feat.set_xlabel("red: poisons, black ring: flagged", fontsize=8)
    ax_feat.set_xticks([])
    ax_feat.set_yticks([])
    fig.figure.tight_layout()

    def update(panel: Panel) -> str:
        size, position, target = size_c.value, pos_c.value, target_c.value
        cell = sweep.cell(rate_c.value, size, position, target)
        img.set_data(np.squeeze(add_trigger(sweep.sample[None], size=size, position=position)[0]))
        _, asr, acc = sweep.curve(size, position, target)
        asr_line.set_data(xs, asr * 100)
        acc_line.set_data(xs, acc * 100)
        here.set_data([cell.rate * 100], [cell.asr * 100])
        scat.set_offsets(cell.xy if len(cell.xy) else np.zeros((0, 2)))
        scat.set_facecolors(np.where(cell.poison[:, None], [_POISON], [_CLEAN]))
        scat.set_edgecolors(np.where(cell.flagged[:, None], [[0, 0, 0, 1]], [[0, 0, 0, 0]]))
        if len(cell.xy):
            lo, hi = cell.xy.min(axis=0), cell.xy.max(axis=0)
            pad = 0.05 * (hi - lo + 1e-9)
            ax_feat.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            ax_feat.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        text = (
            f"ASR <b>{cell.asr:.1%}</b> (unpoisoned model: {cell.asr_unpoisoned:.1%}), "
            f"clean accuracy <b>{cell.clean_accuracy:.1%}</b> "
            f"(unpoisoned: {sweep.unpoisoned_accuracy:.1%})"
        )
        if np.isnan(cell.recall):
            return text + "; no detection was run"
        return (
            f"{text}; activation clustering: recall {cell.recall:.0%}, "
            f"clean samples flagged {cell.clean_flagged:.1%}"
        )

    return Panel(controls, update, fig=fig, title="BadNets backdoor explorer")
