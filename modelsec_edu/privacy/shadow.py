"""Shadow models: the attacker trains copies of the target and learns from them.

Both attacks below assume the attacker knows how the target was trained (the
architecture and recipe: published in a paper or a model card) and holds the
candidate records it asks about.  It trains ``n_shadow`` models, each on a
random half of those records, so for every record it knows several models
that saw it and several that did not.  The target's true membership is never
used.

* Shokri et al. 2017 (https://arxiv.org/abs/1610.05820): from the shadows'
  outputs on records whose membership it chose, the attacker trains an
  **attack classifier** (one per class, as in the paper) and applies it to
  the target's outputs.
* Carlini et al. 2022, LiRA (https://arxiv.org/abs/2112.03570), online
  version: per record, the logit-scaled confidence ``phi = log p_y - log(1 -
  p_y)`` is close to Gaussian across models; fit one Gaussian to the shadows
  that trained on the record and one to those that did not, and score the
  target's ``phi`` by the log-likelihood ratio.  With few shadows (as here)
  the paper's fixed-variance variant is used: one variance per group shared by
  all records, means per record.

Shadow training on hundreds of records takes under a second per model with
the compiled full-batch trainer of :mod:`.training`.  Used in chapter 07.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelsec_edu.validation import (
    check_array,
    check_bool,
    check_callable,
    check_int,
    check_labels,
    check_model,
    check_seed,
)

from .outputs import log_probs

__all__ = ["ShadowBank", "lira_scores", "logit_confidence", "shokri_scores", "train_shadows"]


@dataclass(frozen=True)
class ShadowBank:
    """What the shadow models said about each candidate record.

    ``inside[s, i]`` is True when shadow ``s`` trained on record ``i``;
    ``logp[s, i]`` is its released log-probability vector for that record.
    """

    inside: np.ndarray
    logp: np.ndarray


def train_shadows(
    train: Callable[[np.ndarray, np.ndarray, int], object],
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_shadow: int,
    seed: int | None = 0,
    release: str = "logits",
    decimals: int = 1,
    progress: bool = False,
) -> ShadowBank:
    """Train ``n_shadow`` models, each on a random half of ``(x, y)``, and record their outputs.

    The halves are balanced: every record is inside exactly half of the
    shadows (``n_shadow`` even) or as close as an odd count allows.
    """
    check_callable(train, "train")
    x = check_array(x, "x", dtype=None)
    y = check_labels(y, "y", n=len(x))
    progress = check_bool(progress, "progress")
    n_shadow = check_int(n_shadow, "n_shadow", min=2)
    rng = np.random.default_rng(check_seed(seed))
    n = len(x)
    # each record is IN for a random half of the shadows (the "balanced" splits of LiRA's code)
    order = np.argsort(rng.random((n_shadow, n)), axis=0)
    inside = order < n_shadow // 2
    logp = []
    steps = range(n_shadow)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="shadow models", unit="model")
    for s in steps:
        idx = np.flatnonzero(inside[s])
        model = check_model(train(x[idx], y[idx], int(rng.integers(2**31))), "train(...)'s result")
        logp.append(log_probs(model, x, release=release, decimals=decimals))
        del model
    return ShadowBank(inside=inside, logp=np.stack(logp))


def logit_confidence(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``phi = log p_y - log(1 - p_y)`` from log-probabilities, stably (any leading axes)."""
    logp, y = _check_logp(logp, y, "logp")
    idx = np.broadcast_to(y, logp.shape[:-1])[..., None]
    own = np.take_along_axis(logp, idx, axis=-1)[..., 0]
    others = logp.copy()
    np.put_along_axis(others, idx, -np.inf, axis=-1)
    top = np.max(others, axis=-1, keepdims=True)
    rest = top[..., 0] + np.log(np.sum(np.exp(others - top), axis=-1))
    return own - rest


def _check_logp(logp, y, name: str, bank: ShadowBank | None = None):
    """``(..., n, classes)`` log-probabilities (``-inf`` allowed) and ``n`` labels for them."""
    if bank is not None and not isinstance(bank, ShadowBank):
        raise TypeError(f"bank must be a ShadowBank (train_shadows), got {type(bank).__name__}")
    logp = check_array(logp, name, min_ndim=2, dtype="float64", finite=False)
    if np.isnan(logp).any():
        raise ValueError(f"{name} must not hold NaN")
    y = check_labels(y, "y", n=logp.shape[-2], num_classes=logp.shape[-1])
    if bank is not None and bank.logp.shape[1:] != logp.shape:
        raise ValueError(
            f"{name} must have the bank's shape {bank.logp.shape[1:]}, got {logp.shape}"
        )
    return logp, y


def _features(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per record: its own log-probability and its sorted top log-probabilities (Shokri)."""
    own = np.take_along_axis(logp, np.broadcast_to(y, logp.shape[:-1])[..., None], axis=-1)
    top = -np.sort(-logp, axis=-1)[..., : min(3, logp.shape[-1])]
    return np.concatenate([own, top], axis=-1)


def shokri_scores(bank: ShadowBank, target_logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The attack classifier's P(member) for each record, one logistic regression per class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    target_logp, y = _check_logp(target_logp, y, "target_logp", bank)
    feats = _features(bank.logp, y)  # (S, n, f)
    target = _features(target_logp, y)  # (n, f)
    scores = np.empty(len(y))
    for c in np.unique(y):
        rows = y == c
        f_train = feats[:, rows].reshape(-1, feats.shape[-1])
        lab = bank.inside[:, rows].ravel()
        if lab.all() or not lab.any():  # cannot happen with balanced splits; guard anyway
            scores[rows] = 0.5
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        clf.fit(f_train, lab)
        scores[rows] = clf.predict_proba(target[rows])[:, 1]
    return scores


def lira_scores(bank: ShadowBank, target_logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Online LiRA with fixed variance: ``log N(phi; mu_in, s_in) - log N(phi; mu_out, s_out)``."""
    target_logp, y = _check_logp(target_logp, y, "target_logp", bank)
    phi = logit_confidence(bank.logp, y)  # (S, n)
    phi_t = logit_confidence(target_logp, y)  # (n,)
    inside = bank.inside
    n_in = np.maximum(inside.sum(0), 1)
    n_out = np.maximum((~inside).sum(0), 1)
    mu_in = np.where(inside, phi, 0).sum(0) / n_in
    mu_out = np.where(~inside, phi, 0).sum(0) / n_out
    sd_in = max(float(np.std(phi[inside] - np.broadcast_to(mu_in, phi.shape)[inside])), 1e-3)
    sd_out = max(float(np.std(phi[~inside] - np.broadcast_to(mu_out, phi.shape)[~inside])), 1e-3)

    def loglik(v, mu, sd):
        return -0.5 * ((v - mu) / sd) ** 2 - np.log(sd)

    return loglik(phi_t, mu_in, sd_in) - loglik(phi_t, mu_out, sd_out)
