"""Chapter 07's measurements as typed results: leak against gap, mitigations, ε against accuracy.

Each function trains what it needs, attacks it with
:func:`.membership.membership_inference`, and returns a frozen dataclass that
the notebook prints, plots and hands to a widget (widgets never train).
**Threat model:** the membership attacker of :mod:`.membership` (it holds
records and queries the model); DP-SGD's guarantee (Abadi et al. 2016,
https://arxiv.org/abs/1607.00133) bounds every such attacker, the cheaper
mitigations only the attacks tried.  Used in chapter 07 and
``bench/healthcare.py``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.validation import check_float, check_int, check_seed, check_xy

from .dpsgd import dp_fit
from .membership import membership_inference
from .training import tabular_mlp, trainer

__all__ = [
    "DPPoint",
    "DPSweep",
    "Leak",
    "Mitigation",
    "dp_sweep",
    "leak",
    "linear_head",
    "mitigations",
    "OVERFIT",
    "plain_fit",
]

# The overfit target of the chapter: no regularisation (no weight decay, no early stopping, full
# batch), trained to 100% training accuracy, on 128 fixed random Fourier features of the z-scores
# (training.py).  Why the encoding: on plain z-scores this MLP fits smoothly and its diabetes leak
# sat on the bar (loss-attack AUC 0.61-0.65 over six splits); the features make the fit local, as
# a random forest's is, so it memorises (AUC 0.67-0.74 over six splits, the forest: 0.82) while
# breast cancer, an easy task, still barely overfits (gap about 0.05, AUC 0.49-0.55).  Scale 1.6
# over sqrt(d) sets the frequencies against the typical distance between records.  Figures:
# bench/healthcare.py, 2-CPU course VM.
OVERFIT = {
    "width": 128,
    "depth": 2,
    "steps": 1000,
    "learning_rate": 3e-3,
    "fourier": 128,
    "fourier_scale": 1.6,
}


@dataclass(frozen=True)
class Leak:
    """A model's generalisation gap and what the loss-threshold attack makes of it."""

    name: str
    train_accuracy: float
    test_accuracy: float
    auc: float
    advantage: float
    tpr_at_1pct: float
    tpr_interval: tuple[float, float]
    members: int

    @property
    def gap(self) -> float:
        return self.train_accuracy - self.test_accuracy


def leak(name: str, model: keras.Model, members, non_members, *, seed: int | None = 0) -> Leak:
    """Measure ``model``'s gap and its loss-threshold leak (TPR at 1% FPR with a 95% CI)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (the model's label), got {type(name).__name__}")
    r = membership_inference(model, members, non_members, method="loss")
    return Leak(
        name=name,
        train_accuracy=models.accuracy(model, *members),
        test_accuracy=models.accuracy(model, *non_members),
        auc=r.auc,
        advantage=r.advantage,
        tpr_at_1pct=r.tpr_at_fpr(0.01),
        tpr_interval=r.tpr_interval(0.01, seed=seed),
        members=len(members[0]),
    )


@dataclass(frozen=True)
class Mitigation:
    """One row of the mitigation table: accuracy kept, attack left, and whether a proof backs it."""

    name: str
    test_accuracy: float
    auc: float
    advantage: float
    guarantee: str
    train_seconds: float = float("nan")  # CPU seconds to train it (the release rows: the base's)


def _timed(fit):
    t0 = time.process_time()
    model = fit()
    return model, time.process_time() - t0


def mitigations(
    members, non_members, *, dp_epsilon_target: float = 3.0, steps: int = 1000, seed: int = 0
) -> list[Mitigation]:
    """Train the overfit target and its cheaper cousins on ``members``; attack each.

    Rows: no mitigation; weight decay (AdamW, 3); early stopping (40 steps
    instead of 1000); the same overfit model releasing only labels, or scores
    rounded to one decimal; DP-SGD at ``dp_epsilon_target`` (δ = 1e-5).  Only
    the last has a guarantee; the others reduce *this* attack.  ``steps``: the
    overfit recipe's length (fewer in quick mode).
    """
    x, y = check_xy(*members)
    target = float(check_float(dp_epsilon_target, "dp_epsilon_target", min=0.0, min_open=True))
    rows = []

    def row(name, fitted, release="logits", guarantee="none: only this attack measured"):
        model, seconds = fitted
        r = membership_inference(model, (x, y), non_members, release=release)
        acc = models.accuracy(model, *non_members)
        rows.append(Mitigation(name, acc, r.auc, r.advantage, guarantee, seconds))

    recipe = {**OVERFIT, "steps": check_int(steps, "steps", min=41)}
    base = _timed(lambda: trainer(**recipe)(x, y, seed))
    row("none (overfit)", base)
    row("weight decay 3 (AdamW)", _timed(lambda: trainer(**recipe, weight_decay=3.0)(x, y, seed)))
    early = {**recipe, "steps": 40}
    row("early stopping (40 steps)", _timed(lambda: trainer(**early)(x, y, seed)))
    row("labels only", base, "label")
    row("rounded scores (1 decimal)", base, "rounded")
    from .accountant import noise_for_epsilon

    batch, epochs = max(16, len(x) // 4), 20
    sigma = noise_for_epsilon(
        target_epsilon=target, n=len(x), batch_size=batch, epochs=epochs, delta=1e-5
    )
    model = tabular_mlp(x.shape[1], int(y.max()) + 1, width=64, depth=1, seed=seed)
    t0 = time.process_time()
    dp = dp_fit(
        model,
        x,
        y,
        noise_multiplier=sigma,
        batch_size=batch,
        epochs=epochs,
        learning_rate=0.5,
        delta=1e-5,
        seed=seed,
        progress=False,
    )
    row(
        f"DP-SGD (sigma {sigma:.2f})",
        (dp.model, time.process_time() - t0),
        guarantee=f"(ε = {dp.epsilon:.2f}, δ = 1e-5) for every attack",
    )
    return rows


def linear_head(n_features: int, n_classes: int = 10) -> keras.Model:
    """A linear classifier (one Dense layer, zero-initialised), logits out: DP-SGD's model here."""
    n_features = check_int(n_features, "n_features", min=1)
    n_classes = check_int(n_classes, "n_classes", min=2)
    return keras.Sequential(
        [keras.Input((n_features,)), keras.layers.Dense(n_classes, kernel_initializer="zeros")],
        name="linear_head",
    )


@dataclass(frozen=True)
class DPPoint:
    """One DP-SGD run: its noise, its ε and what it left of accuracy and of the attack."""

    noise_multiplier: float
    epsilon: float
    accuracy: float
    train_accuracy: float
    mia_auc: float
    mia_advantage: float = float("nan")


@dataclass(frozen=True)
class DPSweep:
    """DP-SGD runs at several noise multipliers, same data, recipe and seed (the widget's view)."""

    points: tuple[DPPoint, ...]
    n: int
    batch_size: int
    epochs: int
    delta: float
    features: str

    def at(self, noise_multiplier: float) -> DPPoint:
        """The run whose noise multiplier is closest to ``noise_multiplier``."""
        s = check_float(noise_multiplier, "noise_multiplier", min=0.0)
        return min(self.points, key=lambda p: abs(p.noise_multiplier - s))

    @property
    def sigmas(self) -> np.ndarray:
        return np.array([p.noise_multiplier for p in self.points])


def dp_sweep(
    train,
    test,
    *,
    noise_multipliers: Sequence[float],
    batch_size: int = 500,
    epochs: int = 15,
    learning_rate: float = 0.5,
    l2_norm_clip: float = 1.0,
    delta: float = 1e-5,
    mia_size: int = 1000,
    features: str = "fixed scattering features",
    seed: int | None = 0,
) -> DPSweep:
    """DP-SGD a linear head on ``train = (f, y)`` at each noise multiplier; test on ``test``.

    The membership attack (loss threshold) takes ``mia_size`` training
    records as members and as many test records as non-members.  A noise
    multiplier of 0 is clipped, noiseless SGD: ε infinite, the reference.
    """
    f, y = check_xy(*train)
    ft, yt = check_xy(*test)
    if not isinstance(features, str):
        raise TypeError(
            f"features must be a str (what the head sees), got {type(features).__name__}"
        )
    mia_size = check_int(mia_size, "mia_size", min=10)
    m = min(mia_size, len(f), len(ft))
    seed = check_seed(seed)
    points = []
    for sigma in noise_multipliers:
        sigma = check_float(sigma, "noise_multipliers", min=0.0)
        model = linear_head(f.shape[1], int(max(y.max(), yt.max())) + 1)
        run = dp_fit(
            model,
            f,
            y,
            noise_multiplier=sigma,
            l2_norm_clip=l2_norm_clip,
            batch_size=batch_size,
            epochs=epochs,
            learning_rate=learning_rate,
            delta=delta,
            seed=seed,
            progress=False,
        )
        r = membership_inference(model, (f[:m], y[:m]), (ft[:m], yt[:m]))
        points.append(
            DPPoint(
                sigma,
                run.epsilon,
                models.accuracy(model, ft, yt),
                models.accuracy(model, f, y),
                r.auc,
                r.advantage,
            )
        )
    return DPSweep(tuple(points), len(f), batch_size, epochs, delta, features)


def plain_fit(train, *, epochs: int, batch_size: int, learning_rate: float = 0.5, seed: int = 0):
    """The same linear head trained without privacy by Keras' own ``fit`` (the speed reference)."""
    f, y = check_xy(*train)
    epochs = check_int(epochs, "epochs", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    learning_rate = check_float(learning_rate, "learning_rate", min=0, min_open=True)
    seed = check_seed(seed)
    model = linear_head(f.shape[1], int(y.max()) + 1)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(f, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
    return model
