"""What a deployed model releases to whoever queries it: full scores, rounded scores or a label.

Every privacy attack in this package sees the model only through this
interface, so one switch, ``release``, turns "the API returns probabilities"
into "the API returns probabilities rounded to one decimal" or "the API
returns only the diagnosis".  Releasing less is the cheapest mitigation;
chapter 07 measures what it buys (Choquette-Choo et al. 2021 show that
label-only attacks still work: https://arxiv.org/abs/2007.14321).
Used in chapters 07 and 08.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.validation import check_choice, check_int, check_model

__all__ = ["RELEASES", "log_probs", "num_classes"]

RELEASES = ("logits", "rounded", "label")
_FLOOR = 1e-12  # the smallest probability an attacker's log ever sees (log 1e-12 = -27.6)


def num_classes(model: keras.Model) -> int:
    """Number of logits the classifier outputs."""
    shape = getattr(model, "outputs", None) and model.outputs[0].shape
    if not shape or shape[-1] is None:
        raise ValueError("cannot tell the number of classes: build the model on an input first")
    return int(shape[-1])


def log_probs(
    model: keras.Model, x: Any, *, release: str = "logits", decimals: int = 1
) -> np.ndarray:
    """Log-probabilities as the attacker sees them through the model's interface (float64).

    ``"logits"``: the exact log-softmax.  ``"rounded"``: softmax rounded to
    ``decimals`` places, then logged (0 becomes 1e-12).  ``"label"``: a
    one-hot vector of the predicted class, logged the same way.
    """
    check_model(model)
    release = check_choice(release, "release", RELEASES)
    decimals = check_int(decimals, "decimals", min=0, max=8)
    z = models.predict_logits(model, x).astype("float64")
    z = z - z.max(axis=1, keepdims=True)
    # log-sum-exp as log1p of the *other* terms: exact even when they are below 1e-16, so a
    # confident record's loss is 1e-20 rather than 0 (a tie that would blind the loss attack)
    e = np.exp(z)
    e[np.arange(len(z)), z.argmax(axis=1)] = 0.0
    logp = z - np.log1p(e.sum(axis=1, keepdims=True))
    if release == "logits":
        return logp
    if release == "rounded":
        p = np.round(np.exp(logp), decimals)
    else:
        p = np.eye(z.shape[1])[z.argmax(axis=1)]
    return np.log(np.maximum(p, _FLOOR))
