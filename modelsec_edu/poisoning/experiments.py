"""How much poison plants a backdoor, and what the detector sees: one experiment, one result.

Threat model: the BadNets attacker of :func:`.attacks.badnets` (Gu et al. 2017,
https://arxiv.org/abs/1708.06733) poisons a share ``rate`` of the training set with a trigger
of some size and position, relabelled ``target``; the defender then runs activation clustering
(Chen et al. 2018, https://arxiv.org/abs/1811.03728) on the trained model's features.

:func:`backdoor_sweep` trains one fresh model per setting (rate x trigger size x position x
target) and one unpoisoned reference, and keeps only the numbers and the small arrays a plot
needs: a :class:`BackdoorSweep` of :class:`BackdoorCell`.  Chapter 04's curve and its explorer
widget (:func:`modelsec_edu.widgets.poisoning.backdoor_explorer`) only display that result, so
notebooks and tests can use it without ipywidgets.

What it costs: every model starts from the same seed, the poisons of one rate and target are
the same samples whatever the trigger (those of :func:`.attacks.badnets` with that seed), the
images are stamped into one working copy of the training set and restored after each model
(no copy of the set per model), and Keras' global state is cleared between models.  Used in
chapter 04.
"""

from __future__ import annotations

import ctypes
import itertools
import time
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.validation import (
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_labels,
)

from .attacks import POSITIONS, add_trigger, backdoor_success_rate, badnets
from .detection import (
    activation_clustering,
    evaluate,
    exclusionary_reclassification,
    features,
    projection_2d,
)

__all__ = ["BackdoorCell", "BackdoorSweep", "backdoor_sweep"]

Key = tuple[float, int, str, int]


@dataclass(frozen=True)
class BackdoorCell:
    """One setting, measured on a model trained from scratch on its poisoned set.

    Attributes:
        rate, size, position, target: the setting (share poisoned, trigger side in pixels,
            trigger position, target class).
        n_poisons: how many training samples were poisoned.
        asr: the backdoor's success rate (:func:`.attacks.backdoor_success_rate`).
        clean_accuracy: accuracy on the untouched test set.
        asr_unpoisoned: the same trigger on the unpoisoned reference model.
        precision, recall, clean_flagged: activation clustering with exclusionary
            reclassification against the known poisons (:func:`.detection.evaluate`);
            NaN when the sweep ran without detection.
        xy: ``(m, 2)`` float32, the target class's training features projected to 2-D (PCA).
        poison, flagged: ``(m,)`` bools over the same samples: a poison; flagged by the detector.
    """

    rate: float
    size: int
    position: str
    target: int
    n_poisons: int
    asr: float
    clean_accuracy: float
    asr_unpoisoned: float
    precision: float
    recall: float
    clean_flagged: float
    xy: np.ndarray
    poison: np.ndarray
    flagged: np.ndarray


@dataclass(frozen=True)
class BackdoorSweep:
    """Every measured setting of :func:`backdoor_sweep`, and the unpoisoned reference.

    ``cells`` maps ``(rate, size, position, target)`` to its :class:`BackdoorCell`
    (read-only); ``sample`` is one test image of no target class, for showing the trigger;
    ``seconds`` the wall time the sweep took, ``n_models`` how many models it trained.
    """

    rates: tuple[float, ...]
    sizes: tuple[int, ...]
    positions: tuple[str, ...]
    targets: tuple[int, ...]
    unpoisoned_accuracy: float
    sample: np.ndarray
    cells: Mapping[Key, BackdoorCell]
    seconds: float
    n_models: int

    def cell(self, rate: float, size: int, position: str, target: int) -> BackdoorCell:
        """The cell of one setting; a ``ValueError`` lists the settings when it was not run."""
        key = (float(rate), size, position, target)
        if key not in self.cells:
            raise ValueError(
                f"(rate, size, position, target) = {key!r} was not measured; the sweep ran rates "
                f"{self.rates}, sizes {self.sizes}, positions {self.positions}, "
                f"targets {self.targets}"
            )
        return self.cells[key]

    def curve(self, size: int, position: str, target: int) -> tuple[np.ndarray, ...]:
        """``(rates, asr, clean_accuracy)`` arrays along the rates, for one trigger and target."""
        cells = [self.cell(r, size, position, target) for r in self.rates]
        return (
            np.array(self.rates),
            np.array([c.asr for c in cells]),
            np.array([c.clean_accuracy for c in cells]),
        )


def _options(values: Any, name: str, check: Callable[[Any], Any]) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence (a tuple or list), got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one value, got none")
    out = tuple(check(v) for v in values)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {values!r}")
    return out


def _train(make_model, x, y, *, epochs, batch_size, learning_rate, seed) -> keras.Model:
    keras.utils.set_random_seed(seed)  # every model starts alike: settings differ only by poison
    model = make_model()
    if not isinstance(model, keras.Model):
        raise TypeError(f"make_model must return a keras.Model, got {type(model).__name__}")
    models.fit(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        progress=False,
    )
    return model


def _clear() -> None:
    """Free Keras' global state between models (names, graphs), keeping the dtype policy.

    Then hand the freed heap back to the system where the C library can (glibc's
    ``malloc_trim``): about 40 MB per model here, which keeps a one-core, 2 GB session's peak down.
    """
    policy = keras.config.dtype_policy()
    keras.backend.clear_session()
    keras.config.set_dtype_policy(policy)
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, Windows, musl)
        pass


def _detect(model, x, y, idx, target, seed) -> dict[str, Any]:
    feats = features(model, x)
    found = exclusionary_reclassification(activation_clustering(feats, y, seed=seed), x, y)
    report = evaluate(found.flagged, idx, len(y))
    in_target = np.flatnonzero(y == target)
    xy = (
        projection_2d(feats[in_target], seed=seed)
        if len(in_target) >= 2
        else np.zeros((len(in_target), 2))
    )
    return {
        "precision": float(report["precision"]),
        "recall": float(report["recall"]),
        "clean_flagged": float(report["clean_flagged"]),
        "xy": xy.astype("float32"),
        "poison": np.isin(in_target, idx),
        "flagged": np.isin(in_target, found.flagged),
    }


_NO_DETECTION = {
    "precision": float("nan"),
    "recall": float("nan"),
    "clean_flagged": float("nan"),
    "xy": np.zeros((0, 2), "float32"),
    "poison": np.zeros(0, bool),
    "flagged": np.zeros(0, bool),
}


def backdoor_sweep(
    make_model: Callable[[], keras.Model],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    rates: Sequence[float],
    sizes: Sequence[int] = (4,),
    positions: Sequence[str] = ("top-left",),
    targets: Sequence[int] = (0,),
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
    detect: bool = True,
    progress: bool = True,
) -> BackdoorSweep:
    """Train one model per BadNets setting and one unpoisoned reference; measure each.

    ``len(rates) * len(sizes) * len(positions) * len(targets)`` poisoned models plus one
    reference, each from ``make_model()`` trained by :func:`modelsec_edu.models.fit` with
    ``epochs``, ``batch_size`` and ``learning_rate``, all from Keras seed ``seed``.  A cell's
    poisons are those of ``poisoning.badnets(x_train, y_train, target=..., rate=...,
    seed=seed, size=..., position=...)``.  With ``detect`` each cell also runs activation
    clustering with exclusionary reclassification on its model's penultimate-layer features
    and keeps the target class's 2-D projection (the detector's view).  Nothing is kept of
    the models.  The inputs are never changed.

    Returns:
        a :class:`BackdoorSweep`.
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable, got {type(make_model).__name__}")
    x_train = check_array(x_train, "x_train", ndim=(3, 4))
    y_train = check_labels(y_train, "y_train", n=len(x_train))
    x_test = check_array(x_test, "x_test", ndim=x_train.ndim)
    y_test = check_labels(y_test, "y_test", n=len(x_test))
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(
            f"x_test must hold images of x_train's shape {x_train.shape[1:]}, "
            f"got {x_test.shape[1:]}"
        )
    rates = _options(rates, "rates", lambda r: check_float(r, "rates", min=0, max=1))
    sizes = _options(sizes, "sizes", lambda s: check_int(s, "sizes", min=1))
    positions = _options(positions, "positions", lambda p: check_choice(p, "positions", POSITIONS))
    targets = _options(targets, "targets", lambda t: check_int(t, "targets", min=0))
    epochs = check_int(epochs, "epochs", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    learning_rate = check_float(learning_rate, "learning_rate", min=0, min_open=True)
    seed = check_int(seed, "seed", min=0)
    detect, progress = check_bool(detect, "detect"), check_bool(progress, "progress")
    num_classes = max(int(y_train.max()), int(y_test.max()), *targets, 1) + 1
    others = np.flatnonzero(~np.isin(y_test, targets))
    if len(others) == 0:
        raise ValueError(f"y_test holds no image outside the targets {targets}: no ASR to measure")
    for s, p in itertools.product(sizes, positions):  # every trigger fits, before any training
        add_trigger(x_train[:1], size=s, position=p)
    # The poisons of each (rate, target): badnets' own draw, made on a stand-in for the images
    # (one pixel each) so that no copy of the training set is made; shared by every trigger.
    dummy = np.zeros((len(y_train), 1, 1), "float32")
    draws = {
        (r, t): badnets(
            dummy, y_train, target=t, rate=r, seed=seed, num_classes=num_classes, size=1
        )[2]
        for r, t in itertools.product(rates, targets)
    }
    train = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate}
    grid = list(itertools.product(rates, sizes, positions, targets))
    bar = models.loop.ProgressBar(
        len(grid) + 1, "one model per setting", unit="model", enabled=progress
    )
    start = time.perf_counter()
    try:
        reference = _train(make_model, x_train, y_train, seed=seed, **train)
        bar.update(1)
        acc_ref = models.accuracy(reference, x_test, y_test)
        asr_ref = {
            (s, p, t): backdoor_success_rate(
                reference, x_test, y_test, target=t, num_classes=num_classes, size=s, position=p
            )
            for s, p, t in itertools.product(sizes, positions, targets)
        }
        del reference
        _clear()
        x_work, y_work = np.array(x_train, copy=True), y_train.copy()  # the one working copy
        cells = {}
        for rate, size, position, target in grid:
            idx = draws[(rate, target)]
            trigger = {"size": size, "position": position}
            x_work[idx] = add_trigger(x_train[idx], **trigger)
            y_work[idx] = target
            model = _train(make_model, x_work, y_work, seed=seed, **train)
            seen = _detect(model, x_work, y_work, idx, target, seed) if detect else _NO_DETECTION
            cells[(rate, size, position, target)] = BackdoorCell(
                rate=rate,
                size=size,
                position=position,
                target=target,
                n_poisons=len(idx),
                asr=backdoor_success_rate(
                    model, x_test, y_test, target=target, num_classes=num_classes, **trigger
                ),
                clean_accuracy=models.accuracy(model, x_test, y_test),
                asr_unpoisoned=asr_ref[(size, position, target)],
                **seen,
            )
            x_work[idx], y_work[idx] = x_train[idx], y_train[idx]  # back to the clean set
            del model
            _clear()
            bar.update(1)
    finally:
        bar.close()
    return BackdoorSweep(
        rates=rates,
        sizes=sizes,
        positions=positions,
        targets=targets,
        unpoisoned_accuracy=acc_ref,
        sample=np.array(x_test[others[0]], copy=True),
        cells=types.MappingProxyType(cells),
        seconds=time.perf_counter() - start,
        n_models=len(grid) + 1,
    )
