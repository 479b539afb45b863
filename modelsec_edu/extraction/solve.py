"""Equation-solving extraction: a logistic-regression scorer recovered exactly from d + 1 queries.

**Threat model** (Tramer et al. 2016, "Stealing Machine Learning Models via
Prediction APIs", USENIX Security,
https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer):
a competitor, or a fraudster who wants to know exactly how the bank decides,
sends inputs of their choice to a prediction API that returns class
probabilities.  They know the model is a logistic regression on ``d`` encoded
features, and nothing else.

Why it works: for such a model ``p = sigmoid(x . w + b)``, so
``log(p / (1 - p)) = x . w + b`` is *linear* in the unknowns ``(w, b)``.
Each query gives one linear equation; ``d + 1`` queries at independent
points give a square system with exactly one solution.  With the points
``0, e_1, ..., e_d`` the system solves itself: ``b`` is the log-odds at 0 and
``w_i`` the log-odds at ``e_i`` minus ``b``.

The points need not be plausible applicants: the API scores whatever it is
sent.  Rounding the probabilities (:class:`.api.PredictionAPI`) breaks the
exactness; labels only break the method altogether.  Used in chapter 08.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelsec_edu.validation import check_choice, check_int, check_seed

__all__ = ["DESIGNS", "equation_solving", "log_odds"]

DESIGNS = ("basis", "random")
TINY = 1e-300


def log_odds(p: Any) -> np.ndarray:
    """``log(p1 / p0)`` of ``(n, 2)`` probabilities, from both columns (precise near 0 and 1).

    A probability rounded to 0 gives a huge but finite value, not infinity.
    """
    p = np.asarray(p, dtype="float64")
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"expected (n, 2) class probabilities, got shape {p.shape}")
    return np.log(np.maximum(p[:, 1], TINY)) - np.log(np.maximum(p[:, 0], TINY))


def equation_solving(
    query: Callable[[np.ndarray], Any],
    n_features: int,
    *,
    design: str = "basis",
    seed: int | None = None,
) -> tuple[np.ndarray, float]:
    """Recover ``(weights, bias)`` of a binary logistic-regression scorer from its probabilities.

    ``p(class 1 | x) = sigmoid(x . weights + bias)``.  Sends exactly
    ``n_features + 1`` rows to ``query`` in one call.

    Args:
        query: maps an ``(n, d)`` array to ``(n, 2)`` class probabilities
            (``predict_proba``, or a :class:`.api.PredictionAPI`).
        n_features: ``d``, the width of the encoded input.
        design: ``"basis"`` queries ``0, e_1, ..., e_d`` (the system is
            triangular); ``"random"`` queries ``d + 1`` uniform points of
            ``[0, 1]^d`` and solves the dense system.
        seed: seed of the ``"random"`` design.

    Returns:
        ``weights`` (float64, shape ``(d,)``) and ``bias`` (float).
    """
    if not callable(query):
        raise TypeError(f"query must be callable, got {type(query).__name__}")
    d = check_int(n_features, "n_features", min=1)
    design = check_choice(design, "design", DESIGNS)
    rng = np.random.default_rng(check_seed(seed))
    if design == "basis":
        x = np.vstack([np.zeros((1, d)), np.eye(d)])
    else:
        x = rng.uniform(0.0, 1.0, size=(d + 1, d))
    z = log_odds(query(x))
    if len(z) != d + 1:
        raise ValueError(f"query must return one row per input: sent {d + 1}, got {len(z)}")
    if design == "basis":
        return z[1:] - z[0], float(z[0])
    theta = np.linalg.solve(np.hstack([x, np.ones((d + 1, 1))]), z)
    return theta[:d], float(theta[d])
