"""Attribute inference: recover a patient's sex from the model and the rest of their record.

**Threat model.** The attacker knows a patient's record except one sensitive
column (here ``sex``), knows the diagnosis (the label), and can query the
model.  It tries every value the column can take and keeps the one under
which the model finds the record most plausible: the **lowest loss** on the
known label (Fredrikson et al. 2014, https://www.usenix.org/conference/
usenixsecurity14/technical-sessions/presentation/fredrikson_matthew; Yeom et
al. 2018, https://arxiv.org/abs/1709.01604, section 4, who tie its success to
overfitting).  On a *member* the model has memorised the true combination,
so the guess beats chance more than on a non-member.

Two baselines keep the claim honest: the **prior** (always guess the most
frequent value) and a **population model** that predicts the column from the
other features alone, trained on records that never touched the target
(logistic regression, scikit-learn).  What the target model leaks is the
members' accuracy above both, and above the same attack on non-members.
Used in chapter 07.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_int, check_model

from .membership import per_example_loss

__all__ = ["AttributeResult", "attribute_inference", "population_baseline"]


@dataclass(frozen=True)
class AttributeResult:
    """The attack's guesses and how often they are right."""

    guess: np.ndarray
    truth: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.guess == self.truth))


def _column(x: np.ndarray, column: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.unique(x[:, column])
    if len(values) < 2:
        raise ValueError(f"column {column} takes a single value: nothing to infer")
    return values, np.searchsorted(values, x[:, column])


def attribute_inference(
    model: keras.Model, x: Any, y: Any, *, column: int, values=None
) -> AttributeResult:
    """Guess column ``column`` of each record of ``x`` from the model's loss on label ``y``.

    Args:
        model: the target (logits out).
        x: complete records ``(n, d)``; the true column is read only to score
            the attack (``truth``), never used by it.
        y: the known labels.
        column: index of the sensitive feature.
        values: the values the column can take (default: those seen in ``x``).

    Returns:
        an :class:`AttributeResult`; ``guess`` and ``truth`` index ``values``.
    """
    check_model(model)
    x = check_array(x, "x", ndim=2)
    column = check_int(column, "column", min=0, max=x.shape[1] - 1)
    seen, truth = _column(x, column)
    values = seen if values is None else np.sort(check_array(values, "values", ndim=1))
    truth = np.argmin(np.abs(x[:, column][:, None] - values[None]), axis=1)
    losses = []
    for v in values:
        trial = x.copy()
        trial[:, column] = v
        losses.append(per_example_loss(model, trial, y))
    return AttributeResult(guess=np.argmin(np.stack(losses, 1), axis=1), truth=truth)


def population_baseline(x_known: Any, x_query: Any, *, column: int) -> AttributeResult:
    """Predict ``column`` of ``x_query`` from its other features, learnt on ``x_known`` only.

    A logistic regression on records outside the target's training set: what
    the attacker can guess **without** the model.
    """
    from sklearn.linear_model import LogisticRegression

    x_known = check_array(x_known, "x_known", ndim=2)
    x_query = check_array(x_query, "x_query", ndim=2)
    column = check_int(column, "column", min=0, max=x_known.shape[1] - 1)
    values, s_known = _column(x_known, column)
    truth = np.argmin(np.abs(x_query[:, column][:, None] - values[None]), axis=1)
    others = [j for j in range(x_known.shape[1]) if j != column]
    clf = LogisticRegression(max_iter=1000).fit(x_known[:, others], s_known)
    return AttributeResult(guess=clf.predict(x_query[:, others]), truth=truth)
