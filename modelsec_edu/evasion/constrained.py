"""Evasion under a table's constraints: plausible applicants, not impossible ones.

**Threat model.** A fraudster fills in a loan application (or shapes a card
transaction) and wants the bank's scorer to accept it.  White-box, as in
chapter 03, but every adversarial row must be a *possible* row: one-hot groups
stay one-hot, integers stay integers, every feature stays in its bounds, and
what the attacker cannot change (age, nationality, the bank's record of past
credits, a card's spending history) stays as it was.  Changes have a price:
asking for a smaller loan is cheap, changing jobs is not.  All of this comes
from the dataset's :class:`~modelsec_edu.data.TabularSpec`.

The attack, after LowProFool (Ballet et al. 2019, https://arxiv.org/abs/1911.03274)
and CAPGD (Simonetto et al. 2024, https://arxiv.org/abs/2406.00775):

1. **a cost-weighted norm by a change of variables**: PGD runs on
   ``z = x0 + cost * (x - x0)``, where an L2 ball around ``x0`` is the
   cost-weighted ball in ``x``, so cheap features move first; immutables are
   masked, bounds are per-row boxes in ``z``.  The loop is
   :func:`.gradient.pgd_tensor`;
2. **repair** after each round of steps (CAPGD): project onto the valid set
   (:meth:`TabularSpec.project`: one-hot groups to their largest entry,
   integers rounded, fixed features restored) and restart from there;
3. keep, per row, the **cheapest valid success** over the rounds.

:func:`validity` counts the impossible rows, which is how an unconstrained
PGD's "successes" look (fractional one-hots, negative ages, a changed
nationality).  :func:`constrained_adversarial_training` trains against this
attack.  Used in chapter 08.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.data.tabular import TabularSpec, Validity
from modelsec_edu.validation import (
    check_array,
    check_float,
    check_int,
    check_labels,
    check_model,
    check_seed,
)

from .gradient import pgd_tensor

__all__ = [
    "ConstrainedResult",
    "constrained_adversarial_training",
    "constrained_attack",
    "scores",
    "validity",
]


@dataclass(frozen=True)
class ConstrainedResult:
    """What :func:`constrained_attack` found: the adversarial rows and, per row, its verdict.

    ``x_adv`` equals ``x`` where no valid success was found.  ``success``:
    the attacked row's score for ``source`` is below ``threshold`` and the row
    is valid.  ``cost``: what the changes cost (``TabularSpec.change_cost``).
    """

    x_adv: np.ndarray
    success: np.ndarray
    cost: np.ndarray
    score: np.ndarray

    @property
    def success_rate(self) -> float:
        return float(self.success.mean())


def validity(spec: TabularSpec, x_adv: Any, x: Any) -> Validity:
    """Which attacked rows are possible (see :class:`~modelsec_edu.data.Validity`)."""
    if not isinstance(spec, TabularSpec):
        raise TypeError(f"spec must be a TabularSpec, got {type(spec).__name__}")
    return spec.validity(check_array(x_adv, "x_adv", ndim=2), check_array(x, "x", ndim=2))


def scores(model: keras.Model, x: Any, source: int = 1) -> np.ndarray:
    """The model's probability of class ``source`` (the scorer's risk of "bad", or of "fraud")."""
    x = check_array(x, "x", ndim=2)
    source = check_int(
        source, "source", min=0, max=int(check_model(model).outputs[0].shape[-1]) - 1
    )
    return models.predict_proba(model, x)[:, source]


def _relaxed_rounds(model, x0, y_target, cost, mask, budget, step_size, steps):
    """One round of cost-weighted PGD in ``z``-space (a function of tensors, for the loop below)."""
    t = keras.ops.convert_to_tensor
    inv = t((1.0 / cost).astype("float32"))
    x0t = t(x0)
    lo = t(x0 - x0 * cost)  # x = 0  <=>  z = x0 - cost * x0
    hi = t(x0 + (1.0 - x0) * cost)

    def logits(z):
        return model(x0t + (z - x0t) * inv, training=False)

    def run(x_start):
        delta0 = t(((x_start - x0) * cost).astype("float32"))
        z = pgd_tensor(
            logits, x0t, t(y_target), eps=float(budget), step_size=float(step_size), steps=steps,
            norm="l2", delta0=delta0, clip=(lo, hi), targeted=True, mask=t(mask),
        )  # fmt: skip
        return x0 + (keras.ops.convert_to_numpy(z) - x0) / cost

    return run


def constrained_attack(
    model: keras.Model,
    x: Any,
    spec: TabularSpec,
    *,
    source: int = 1,
    target: int = 0,
    threshold: float = 0.5,
    budget: float = 2.0,
    steps: int = 20,
    rounds: int = 5,
    step_size: float | None = None,
    seed: int | None = 0,
) -> ConstrainedResult:
    """Move each row of ``x`` under ``threshold`` (score of ``source``) with valid, cheap changes.

    Args:
        model: Keras classifier (logits out) on the encoded table.
        x: encoded rows ``(n, d)``, valid under ``spec``.
        spec: the table's descriptor (types, bounds, costs, mutability).
        source: the class the attacker escapes ("bad", "fraud").
        target: the class it aims for.
        threshold: a row succeeds when its ``source`` probability is below it
            (0.5 is the argmax decision of a binary model; a fraud detector's
            threshold sits at its chosen false-alarm rate).
        budget: radius of the cost-weighted L2 ball, in cost units.
        steps: PGD steps per round; rounds: repair-and-restart rounds.
        step_size: L2 step in ``z``; default ``2.5 * budget / steps``.
        seed: seeds the small random start of rounds after the first.
    """
    check_model(model)
    if not isinstance(spec, TabularSpec):
        raise TypeError(f"spec must be a TabularSpec, got {type(spec).__name__}")
    x0 = check_array(x, "x", ndim=2)
    if x0.shape[1] != spec.n_features:
        raise ValueError(
            f"x must have {spec.n_features} columns for {spec.name}, got {x0.shape[1]}"
        )
    source = check_int(source, "source", min=0)
    target = check_int(target, "target", min=0)
    threshold = check_float(threshold, "threshold", min=0, max=1, min_open=True, max_open=True)
    budget = check_float(budget, "budget", min=0)
    steps = check_int(steps, "steps", min=1)
    rounds = check_int(rounds, "rounds", min=1)
    step_size = (
        models.default_step_size(budget, steps)
        if step_size is None
        else check_float(step_size, "step_size", min=0)
    )
    rng = np.random.default_rng(check_seed(seed))
    x0 = x0.copy()
    cost = spec.costs().astype("float32")
    mask = spec.mutable_mask()
    y_target = np.full(len(x0), target, dtype="int32")

    best = x0.copy()
    best_cost = np.full(len(x0), np.inf)
    s0 = scores(model, x0, source)
    done = s0 < threshold  # already accepted: nothing to change
    best_cost[done] = 0.0
    if budget > 0 and not done.all():
        run = _relaxed_rounds(model, x0, y_target, cost, mask, budget, step_size, steps)
        start = x0
        for r in range(rounds):
            if r:  # restart near the last repaired point, off the grid it is stuck on
                start = np.clip(start + mask * rng.normal(0, 0.05, start.shape), 0, 1).astype(
                    "float32"
                )
            relaxed = run(start)
            cand = spec.project(relaxed, x0)
            c = spec.change_cost(cand, x0)
            ok = (scores(model, cand, source) < threshold) & (c < best_cost)
            best[ok], best_cost[ok] = cand[ok], c[ok]
            start = cand
    final = scores(model, best, source)
    success = (final < threshold) & spec.validity(best, x0).valid
    return ConstrainedResult(
        x_adv=best,
        success=success,
        cost=np.where(np.isfinite(best_cost), best_cost, 0.0),
        score=final,
    )


def constrained_adversarial_training(
    train: Callable[[np.ndarray, np.ndarray, int], keras.Model],
    x: Any,
    y: Any,
    spec: TabularSpec,
    *,
    rounds: int = 2,
    seed: int = 0,
    **attack: Any,
) -> keras.Model:
    """Adversarial training under the same constraints (Madry et al. 2018, as data augmentation).

    ``train(x, y, seed) -> model`` is the bank's recipe (e.g.
    :func:`modelsec_edu.privacy.trainer`).  Each round attacks the current
    model's training rows of class ``source`` with :func:`constrained_attack`,
    adds the valid adversarial rows with their true label, and trains a fresh
    model on the union.  Returns the last model.
    """
    if not callable(train):
        raise TypeError(f"train must be callable, got {type(train).__name__}")
    x = check_array(x, "x", ndim=2)
    y = check_labels(y, "y", n=len(x))
    rounds = check_int(rounds, "rounds", min=1)
    seed = check_int(seed, "seed", min=0)
    source = attack.get("source", 1)
    model = train(x, y, seed)
    xs, ys = x, y
    for r in range(rounds):
        rows = np.flatnonzero(y == source)
        res = constrained_attack(model, x[rows], spec, seed=seed + r, **attack)
        moved = res.success
        xs = np.concatenate([xs, res.x_adv[moved]])
        ys = np.concatenate([ys, y[rows][moved]])
        model = train(xs, ys, seed + r + 1)
    return model
