"""The prediction API an attacker queries: full probabilities, rounded ones, or labels only.

A bank that sells credit scores, or a fraud service that answers "accept" or
"decline", exposes its model through an API.  What it returns decides what an
attacker can learn from it (Tramer et al. 2016, "Stealing Machine Learning
Models via Prediction APIs", USENIX Security,
https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer):

* ``"proba"``: both class probabilities, as ``predict_proba`` returns them;
* ``"rounded"``: the probabilities rounded to ``decimals`` places (a cheap
  defence: it costs the bank's honest customers almost nothing);
* ``"label"``: only the decision, as a one-hot row (the strongest of the three).

:class:`PredictionAPI` also counts and keeps every query per account, which
is what a monitor (:mod:`.monitor`) reads.  Used in chapter 08.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.validation import check_array, check_choice, check_int

__all__ = ["OUTPUTS", "PredictionAPI"]

OUTPUTS = ("proba", "rounded", "label")


class PredictionAPI:
    """``api(x) -> (n, 2)`` class probabilities of a binary scorer, as the API releases them.

    Args:
        model: a Keras classifier (logits out; softmax is applied) or any
            callable mapping an ``(n, d)`` array to ``(n, k)`` probabilities
            (scikit-learn's ``predict_proba``).
        output: ``"proba"``, ``"rounded"`` or ``"label"`` (see the module docstring).
        decimals: places kept by ``"rounded"``.

    ``n_queries`` counts the rows answered so far; ``log[account]`` keeps the
    rows each account sent, in order (``account`` is a keyword of the call).
    """

    def __init__(self, model: Any, *, output: str = "proba", decimals: int = 2):
        if isinstance(model, keras.Model):
            self._proba: Callable[[np.ndarray], np.ndarray] = lambda x: models.predict_proba(
                model, x
            )
        elif callable(model):
            self._proba = model
        else:
            raise TypeError(
                f"model must be a keras.Model or a callable, got {type(model).__name__}"
            )
        self.output = check_choice(output, "output", OUTPUTS)
        self.decimals = check_int(decimals, "decimals", min=0, max=15)
        self.n_queries = 0
        self.log: dict[str, list[np.ndarray]] = {}

    def __call__(self, x: Any, *, account: str = "anonymous") -> np.ndarray:
        x = check_array(x, "x", ndim=2, dtype="float64")
        p = np.asarray(self._proba(x), dtype="float64")
        if p.ndim != 2 or len(p) != len(x):
            raise ValueError(f"the model must return (n, k) probabilities, got shape {p.shape}")
        self.n_queries += len(x)
        self.log.setdefault(str(account), []).extend(x.copy())
        if self.output == "rounded":
            return np.round(p, self.decimals)
        if self.output == "label":
            return np.eye(p.shape[1])[p.argmax(axis=1)]
        return p.copy()

    def queries(self, account: str = "anonymous") -> np.ndarray:
        """The rows ``account`` has sent, as one ``(n, d)`` array."""
        rows = self.log.get(str(account), [])
        return np.array(rows) if rows else np.empty((0, 0))
