"""Copy-cat extraction: train a model of your own on the labels a prediction API returns.

**Threat model** (Tramer et al. 2016, USENIX Security, section 6, "retraining
attacks", https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer;
Papernot et al. 2017, https://arxiv.org/abs/1602.02697): the API returns only
the decision ("accept" / "decline").  The attacker has no training data of the
bank's, only a pool of inputs it can make up (here: applicants drawn at random
from the public schema, :meth:`modelsec_edu.data.TabularSpec.sample`), a
model family of its own, and a query budget.  It labels its inputs with the
API's answers and trains on them.

Two ways to spend the budget:

* ``"random"``: query pool inputs at random;
* ``"adaptive"`` (Tramer's adaptive retraining): spend half at random, then
  in each round query the pool inputs the current copy is least sure of, the
  ones near its decision boundary, where a label teaches most.

The copy is scored by its **agreement** with the original on inputs neither
trained on: the share of them on which both decide the same.  Used in
chapter 08.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.privacy import fit_steps
from modelsec_edu.validation import check_array, check_choice, check_int, check_seed

__all__ = ["STRATEGIES", "agreement", "copycat", "decide"]

STRATEGIES = ("adaptive", "random")


def decide(model: Any, x: Any) -> np.ndarray:
    """The decisions (class indices) of a Keras model, or of a callable giving ``(n, k)`` scores."""
    x = check_array(x, "x", ndim=2)
    if isinstance(model, keras.Model):
        return models.predict_labels(model, x)
    if callable(model):
        return np.asarray(model(x)).argmax(axis=1)
    raise TypeError(f"model must be a keras.Model or a callable, got {type(model).__name__}")


def agreement(model_a: Any, model_b: Any, x: Any) -> float:
    """Share of the rows of ``x`` on which the two models decide the same (a float in [0, 1])."""
    return float(np.mean(decide(model_a, x) == decide(model_b, x)))


def copycat(
    query: Callable[[np.ndarray], Any],
    x_pool: Any,
    *,
    queries: int,
    model_fn: Callable[[], keras.Model],
    seed: int | None = 0,
    strategy: str = "adaptive",
    rounds: int = 4,
    steps: int = 150,
    learning_rate: float = 3e-3,
) -> keras.Model:
    """A label-only copy of the model behind ``query``, trained on ``queries`` answers.

    Args:
        query: maps ``(n, d)`` inputs to ``(n, k)`` scores; only their argmax is used.
        x_pool: the attacker's own candidate inputs, at least ``queries`` rows.
        queries: the budget: rows sent to ``query`` in all.
        model_fn: builds a fresh, uncompiled Keras classifier (logits out).
        seed: seeds the choice of queries and the training.
        strategy: ``"adaptive"`` or ``"random"`` (module docstring).
        rounds: rounds of the adaptive strategy (the first is random).
        steps, learning_rate: full-batch Adam steps per training.

    Returns:
        The copy, a trained Keras model.
    """
    if not callable(query):
        raise TypeError(f"query must be callable, got {type(query).__name__}")
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable, got {type(model_fn).__name__}")
    pool = check_array(x_pool, "x_pool", ndim=2)
    queries = check_int(queries, "queries", min=2, max=len(pool))
    strategy = check_choice(strategy, "strategy", STRATEGIES)
    rounds = check_int(rounds, "rounds", min=1) if strategy == "adaptive" else 1
    steps = check_int(steps, "steps", min=1)
    rng = np.random.default_rng(check_seed(seed))
    seed = 0 if seed is None else seed

    first = queries if rounds == 1 else max(2, queries // 2)
    asked = rng.choice(len(pool), size=first, replace=False)
    labels = decide(query, pool[asked])
    per_round = [len(a) for a in np.array_split(np.arange(queries - first), max(rounds - 1, 1))]
    copy = None
    for r in range(rounds):
        copy = model_fn()
        if not isinstance(copy, keras.Model):
            raise TypeError(f"model_fn must return a keras.Model, got {type(copy).__name__}")
        fit_steps(
            copy, pool[asked], labels, steps=steps, learning_rate=learning_rate, seed=seed + r
        )
        if r == rounds - 1 or per_round[r] == 0:
            continue
        rest = np.setdiff1d(np.arange(len(pool)), asked)
        logits = models.predict_logits(copy, pool[rest])
        top2 = np.sort(logits, axis=1)[:, -2:]
        nearest = rest[np.argsort(top2[:, 1] - top2[:, 0], kind="stable")[: per_round[r]]]
        asked = np.concatenate([asked, nearest])
        labels = np.concatenate([labels, decide(query, pool[nearest])])
    return copy
