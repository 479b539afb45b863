"""Membership inference: was this patient in the training set?

**Threat model.** The attacker holds a record ``(x, y)`` (a patient's
measurements and diagnosis, from a leaked spreadsheet or a neighbour's
knowledge) and can query the deployed model.  Knowing that the record was in
the training set reveals something the record alone does not: that the
patient attended the clinic whose data trained the model, or took part in a
study on a disease.  The attacker never sees the training set.

Why it works: a model fits the records it was trained on better than those it
was not.  The gap between training and test loss, the **generalisation gap**,
is the signal; an overfit model leaks most.

Attacks, from the cheapest (all score "higher = member"):

* ``"loss"``, the loss-threshold attack of Yeom et al. 2018
  (https://arxiv.org/abs/1709.01604): score ``-loss(model(x), y)``.  No shadow
  models, no extra data; a fixed threshold at the training loss gives
  advantage close to the gap.
* ``"shadow"``, Shokri et al. 2017 (https://arxiv.org/abs/1610.05820): train
  shadow models whose members the attacker chose, learn from their outputs
  what "member" looks like, apply that to the target (:mod:`.shadow`).
* ``"lira"``, the likelihood-ratio attack of Carlini et al. 2022
  (https://arxiv.org/abs/2112.03570): per record, fit Gaussians to its
  logit-scaled confidence under shadow models that did and did not train on it
  (:mod:`.shadow`).

``release`` is what the deployed model returns to the attacker: ``"logits"``
(full scores), ``"rounded"`` (probabilities rounded to ``decimals`` places) or
``"label"`` (only the predicted class; the loss attack then becomes Yeom's
*gap attack*, "member if classified correctly").  Used in chapters 07 and 08.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import (
    check_choice,
    check_int,
    check_labels,
    check_model,
    check_seed,
    check_xy,
)

from .metrics import MembershipResult
from .outputs import RELEASES, log_probs, num_classes

__all__ = [
    "METHODS",
    "RELEASES",
    "log_probs",
    "loss_scores",
    "membership_inference",
    "per_example_loss",
]

METHODS = ("loss", "shadow", "lira")


def per_example_loss(
    model: keras.Model, x: Any, y: Any, *, release: str = "logits", decimals: int = 1
) -> np.ndarray:
    """Cross-entropy of each record, ``-log p_y``, from what the model releases (float64)."""
    check_model(model)
    x, y = check_xy(x, y, num_classes=num_classes(model))
    logp = log_probs(model, x, release=release, decimals=decimals)
    return -logp[np.arange(len(y)), y]


def loss_scores(
    model: keras.Model, x: Any, y: Any, *, release: str = "logits", decimals: int = 1
) -> np.ndarray:
    """The loss-threshold attack's score of each record: ``-loss`` (higher = member)."""
    return -per_example_loss(model, x, y, release=release, decimals=decimals)


def _pair(value: Any, name: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be an (x, y) pair, got {type(value).__name__}")
    x, y = check_xy(*value, num_classes=k)
    return x, check_labels(y, f"{name} labels", n=len(x), num_classes=k)


def membership_inference(
    model: keras.Model,
    members: tuple[Any, Any],
    non_members: tuple[Any, Any],
    *,
    method: str = "loss",
    release: str = "logits",
    decimals: int = 1,
    train: Callable[[np.ndarray, np.ndarray, int], keras.Model] | None = None,
    n_shadow: int = 8,
    seed: int | None = 0,
) -> MembershipResult:
    """Attack ``model`` and score how well it tells ``members`` from ``non_members``.

    Args:
        model: the target, a Keras classifier that outputs logits.
        members: ``(x, y)`` records the model was trained on.
        non_members: ``(x, y)`` records from the same population it never saw.
        method: ``"loss"`` (Yeom et al.), ``"shadow"`` (Shokri et al.) or
            ``"lira"`` (Carlini et al.); see the module docstring.
        release: what the model returns to the attacker: ``"logits"``,
            ``"rounded"`` or ``"label"``.
        decimals: decimal places kept with ``release="rounded"``.
        train: for ``"shadow"`` and ``"lira"``, ``train(x, y, seed) -> model``
            trains a fresh model the way the target was trained (the attacker
            is assumed to know the recipe, as in both papers).
        n_shadow: number of shadow models (``"shadow"``, ``"lira"``).
        seed: seeds the shadow models' data splits and initialisations.

    Returns:
        a :class:`.MembershipResult` (``.auc``, ``.advantage``,
        ``.tpr_at_fpr(fpr)``, ``.tpr_interval(fpr)``).  The true membership
        labels are used only to score the attack, never by it.
    """
    check_model(model)
    k = num_classes(model)
    method = check_choice(method, "method", METHODS)
    release = check_choice(release, "release", RELEASES)
    decimals = check_int(decimals, "decimals", min=0, max=8)
    x_in, y_in = _pair(members, "members", k)
    x_out, y_out = _pair(non_members, "non_members", k)
    if x_in.shape[1:] != x_out.shape[1:]:
        raise ValueError(
            "members and non_members must have the same sample shape, "
            f"got {x_in.shape[1:]} and {x_out.shape[1:]}"
        )
    n_shadow = check_int(n_shadow, "n_shadow", min=2)
    seed = check_seed(seed)
    if train is not None and not callable(train):
        raise TypeError(f"train must be callable, train(x, y, seed) -> model, got {train!r}")
    if method == "loss":
        s_in = loss_scores(model, x_in, y_in, release=release, decimals=decimals)
        s_out = loss_scores(model, x_out, y_out, release=release, decimals=decimals)
        name = "loss threshold" + ("" if release == "logits" else f" ({release})")
        return MembershipResult.from_scores(name, s_in, s_out)
    if train is None:
        raise TypeError(
            f"method={method!r} needs train(x, y, seed) -> model, got {type(train).__name__}"
        )
    from . import shadow

    x = np.concatenate([x_in, x_out])
    y = np.concatenate([y_in, y_out])
    target_logp = log_probs(model, x, release=release, decimals=decimals)
    bank = shadow.train_shadows(
        train, x, y, n_shadow=n_shadow, seed=seed, release=release, decimals=decimals
    )
    if method == "shadow":
        scores = shadow.shokri_scores(bank, target_logp, y)
    else:
        scores = shadow.lira_scores(bank, target_logp, y)
    return MembershipResult.from_scores(method, scores[: len(y_in)], scores[len(y_in) :])
