"""Widgets for chapter 04 (data poisoning): the backdoor explorer and its detector's view.

Training a model takes seconds, too slow for a slider, so the factories train
one model per setting up front (with a progress bar) and the controls then
move through the measured grid instantly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import keras
import numpy as np

from modelsec_edu import models, poisoning
from modelsec_edu.validation import check_bool, check_callable, check_seed, check_splits

from .base import FigurePanel, Panel

__all__ = ["BackdoorRun", "backdoor_explorer", "badnets_curve", "run_backdoor"]


@dataclass
class BackdoorRun:
    """One model trained on BadNets-poisoned data, and what was measured on it."""

    rate: float
    trigger: dict[str, Any]
    target: int
    poison_idx: np.ndarray
    asr: float
    clean_accuracy: float
    model: keras.Model | None = None


def run_backdoor(
    make_model: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    rate: float,
    target: int = 0,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
    keep_model: bool = True,
    **trigger_options: Any,
) -> BackdoorRun:
    """Poison the training set with :func:`.poisoning.badnets`, train a fresh model, measure ASR and clean accuracy.

    The model starts from ``seed`` (Keras' global seed is set, as
    :func:`.runtime.set_seed` does), so runs that differ only in the
    poisoning differ only because of it.
    """
    check_callable(make_model, "make_model")
    x_train, y_train, x_test, y_test = check_splits(x_train, y_train, x_test, y_test)
    keep_model = check_bool(keep_model, "keep_model")
    x_p, y_p, idx = poisoning.badnets(
        x_train, y_train, target=target, rate=rate, seed=seed, **trigger_options
    )
    keras.utils.set_random_seed(seed)
    model = make_model()
    models.fit(
        model,
        x_p,
        y_p,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        progress=False,
    )
    return BackdoorRun(
        rate=float(rate),
        trigger=dict(trigger_options),
        target=int(target),
        poison_idx=idx,
        asr=poisoning.backdoor_success_rate(
            model, x_test, y_test, target=target, **trigger_options
        ),
        clean_accuracy=models.accuracy(model, x_test, y_test),
        model=model if keep_model else None,
    )


def badnets_curve(
    make_model: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    rates: Sequence[float],
    epochs: int,
    target: int = 0,
    seed: int = 0,
    **trigger_options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """ASR and clean accuracy of one model per poisoning rate: ``(asr, clean_accuracy)`` arrays."""
    from tqdm.auto import tqdm

    check_callable(make_model, "make_model")
    x_train, y_train, x_test, y_test = check_splits(x_train, y_train, x_test, y_test)
    runs = [
        run_backdoor(
            make_model,
            x_train,
            y_train,
            x_test,
            y_test,
            rate=r,
            target=target,
            epochs=epochs,
            seed=seed,
            keep_model=False,
            **trigger_options,
        )
        for r in tqdm(list(rates), desc="one model per poisoning rate")
    ]
    return np.array([r.asr for r in runs]), np.array([r.clean_accuracy for r in runs])


def backdoor_explorer(
    make_model: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    rates: Sequence[float] = (0.005, 0.01, 0.03, 0.05),
    sizes: Sequence[int] = (2, 4),
    positions: Sequence[str] = ("top-left", "bottom-right"),
    targets: Sequence[int] = (0,),
    epochs: int = 3,
    seed: int = 0,
) -> Panel:
    """Poisoning rate, trigger size and position, target class: see ASR, clean accuracy and the detector's view.

    The factory trains one model for every combination (``len(rates) *
    len(sizes) * len(positions) * len(targets)`` models, plus one unpoisoned
    reference) with a progress bar.  For each it keeps the ASR, the clean
    accuracy, and a 2-D projection of the target class's penultimate-layer
    features with the poisons and what activation clustering flagged.
    ``panel.results["grid"]`` maps ``(rate, size, position, target)`` to the
    measured numbers.
    """
    from tqdm.auto import tqdm

    check_callable(make_model, "make_model")
    x_train, y_train, x_test, y_test = check_splits(x_train, y_train, x_test, y_test)
    seed = check_seed(seed)
    rates = [float(r) for r in rates]
    grid = list(itertools.product(rates, sizes, positions, targets))
    if not grid:
        raise ValueError("give at least one rate, size, position and target")
    keras.utils.set_random_seed(seed)
    reference = make_model()
    models.fit(
        reference,
        x_train,
        y_train,
        epochs=epochs,
        batch_size=64,
        learning_rate=2e-3,
        progress=False,
    )
    acc_ref = models.accuracy(reference, x_test, y_test)
    cells: dict[tuple, dict[str, Any]] = {}
    for rate, size, position, target in tqdm(grid, desc="one model per setting"):
        trig = {"size": int(size), "position": position}
        run = run_backdoor(
            make_model,
            x_train,
            y_train,
            x_test,
            y_test,
            rate=rate,
            target=target,
            epochs=epochs,
            seed=seed,
            **trig,
        )
        x_p, y_p, idx = poisoning.badnets(
            x_train, y_train, target=target, rate=rate, seed=seed, **trig
        )
        feats = poisoning.features(run.model, x_p)
        found = poisoning.exclusionary_reclassification(
            poisoning.activation_clustering(feats, y_p, seed=seed), x_p, y_p
        )
        in_target = np.flatnonzero(y_p == target)
        cells[(rate, size, position, target)] = {
            "asr": run.asr,
            "acc": run.clean_accuracy,
            "xy": poisoning.projection_2d(feats[in_target], seed=seed),
            "poison": np.isin(in_target, idx),
            "flagged": np.isin(in_target, found.flagged),
            "report": poisoning.evaluate(found.flagged, idx, len(y_p)),
            "asr_ref": poisoning.backdoor_success_rate(
                reference, x_test, y_test, target=target, **trig
            ),
        }

    rate_c = w.SelectionSlider(
        options=[(f"{r:.2%}", r) for r in rates],
        value=rates[0],
        description="poisoned",
        continuous_update=False,
    )
    size_c = w.Dropdown(
        options=list(sizes),
        value=sizes[0],
        description="trigger size",
        layout=w.Layout(width="180px"),
    )
    pos_c = w.Dropdown(
        options=list(positions),
        value=positions[0],
        description="position",
        layout=w.Layout(width="220px"),
    )
    target_c = w.Dropdown(
        options=list(targets),
        value=targets[0],
        description="target",
        layout=w.Layout(width="150px"),
    )
    for control in (rate_c, size_c, pos_c, target_c):
        control.disabled = len(control.options) < 2  # a single choice cannot change the picture
    fig = FigurePanel((11, 3.2), ncols=3)
    ax_img, ax_curve, ax_feat = fig.axes
    sample = x_test[np.flatnonzero(~np.isin(y_test, list(targets)))[0]]  # of no target class
    img = ax_img.imshow(np.squeeze(sample), cmap="gray", vmin=0, vmax=1)
    ax_img.axis("off")
    (asr_line,) = ax_curve.plot([], [], marker="o", color="tab:red", label="ASR")
    (acc_line,) = ax_curve.plot([], [], marker="s", color="tab:blue", label="clean accuracy")
    (here,) = ax_curve.plot([], [], marker="o", markersize=13, mfc="none", mec="black", ls="none")
    ax_curve.axhline(acc_ref * 100, ls=":", color="tab:blue", label="unpoisoned model")
    if min(rates) > 0:
        ax_curve.set_xscale("log")
    ax_curve.set_xlabel("training set poisoned (%)")
    ax_curve.set_ylim(0, 102)
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=7, loc="lower right")
    scat = ax_feat.scatter([], [], s=9)
    ax_feat.set_title("target class features (PCA)", fontsize=9)
    ax_feat.set_xticks([])
    ax_feat.set_yticks([])

    def update(panel: Panel) -> str:
        key = (rate_c.value, size_c.value, pos_c.value, target_c.value)
        cell = cells[key]
        img.set_data(
            np.squeeze(
                poisoning.add_trigger(sample[None], size=size_c.value, position=pos_c.value)[0]
            )
        )
        ax_img.set_title("a triggered test input", fontsize=9)
        line = [cells[(r, *key[1:])] for r in rates]
        xs = np.array(rates) * 100
        asr_line.set_data(xs, [c["asr"] * 100 for c in line])
        acc_line.set_data(xs, [c["acc"] * 100 for c in line])
        here.set_data([rate_c.value * 100], [cell["asr"] * 100])
        if min(rates) > 0:
            ax_curve.set_xlim(xs.min() / 1.5, xs.max() * 1.5)
        else:
            ax_curve.set_xlim(-0.05 * xs.max() - 0.1, xs.max() * 1.05 + 0.1)
        colors = np.where(cell["poison"][:, None], [[0.85, 0.1, 0.1, 0.9]], [[0.5, 0.5, 0.5, 0.35]])
        scat.set_offsets(cell["xy"])
        scat.set_facecolors(colors)
        scat.set_edgecolors(np.where(cell["flagged"][:, None], [[0, 0, 0, 1]], [[0, 0, 0, 0]]))
        lo, hi = cell["xy"].min(axis=0), cell["xy"].max(axis=0)
        pad = 0.05 * (hi - lo + 1e-9)
        ax_feat.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax_feat.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax_feat.set_xlabel("red: poisons, black ring: flagged", fontsize=8)
        panel.fig.figure.tight_layout()
        rep = cell["report"]
        return (
            f"ASR <b>{cell['asr']:.1%}</b> (unpoisoned model: {cell['asr_ref']:.1%}), "
            f"clean accuracy <b>{cell['acc']:.1%}</b> (unpoisoned: {acc_ref:.1%}); "
            f"activation clustering: recall {rep['recall']:.0%}, "
            f"clean samples flagged {rep['clean_flagged']:.1%}"
        )

    panel = Panel(
        [rate_c, size_c, pos_c, target_c], update, fig=fig, title="BadNets backdoor explorer"
    )
    panel.results = {
        "unpoisoned_accuracy": acc_ref,
        "grid": {
            key: {k: cell[k] for k in ("asr", "acc", "asr_ref", "report")}
            for key, cell in cells.items()
        },
    }
    return panel
