"""Square Attack: a black-box attack that needs only the model's scores.

The attacker never sees a gradient.  Square Attack (Andriushchenko, Croce,
Flammarion & Hein 2020) does random search on the corners of the L-inf ball:
start from vertical stripes of +-eps, then, again and again, redraw the signs
inside one random square window and keep the change only where it lowers the
margin ``z_y - max_{k != y} z_k``.  The windows shrink on a fixed schedule, from
coarse to fine.  One query is one forward pass per input, so the attack runs
unchanged against models whose gradients are broken, hidden or useless: that is
what makes it the test of gradient masking (Carlini et al. 2019).

Inputs of shape ``(h, w[, c])`` get square windows; feature vectors get random
subsets of features of the same share.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import check_bool, check_float, check_int, check_seed

from . import _checks

__all__ = ["square_attack"]

# Iterations (per 10,000) at which the window's share of the image halves (the paper's schedule).
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def _share(p_init: float, i: int, queries: int) -> float:
    """Share of the input redrawn at iteration ``i``: halves on the paper's schedule."""
    i = int(i / queries * 10000)
    return p_init / 2 ** sum(i > h for h in _HALVINGS)


def _make_margin(targeted: bool, k: int):
    def make():
        def fn(logits, x, y):
            z = logits(x)
            onehot = keras.ops.one_hot(y, k)
            z_y = keras.ops.sum(z * onehot, axis=-1)
            other = keras.ops.max(z - 1e9 * onehot, axis=-1)
            # untargeted: push z_y below the best other class; targeted: lift the target above all
            return (other - z_y) if targeted else (z_y - other)

        return fn

    return make


def _windows(
    rng: np.random.Generator, n: int, sample_shape: tuple[int, ...], share: float
) -> np.ndarray:
    """A boolean mask per input: one random square (images) or a random subset (vectors)."""
    if len(sample_shape) in (2, 3) and min(sample_shape[:2]) > 1:
        h, w = sample_shape[:2]
        side = int(round(np.sqrt(share * h * w)))
        side = min(max(side, 1), min(h, w) - 1)
        top = rng.integers(0, h - side + 1, size=n)
        left = rng.integers(0, w - side + 1, size=n)
        rows = (np.arange(h)[None] >= top[:, None]) & (np.arange(h)[None] < (top + side)[:, None])
        cols = (np.arange(w)[None] >= left[:, None]) & (np.arange(w)[None] < (left + side)[:, None])
        win = rows[:, :, None] & cols[:, None, :]
        return win.reshape((n, h, w) + (1,) * (len(sample_shape) - 2))
    d = int(np.prod(sample_shape))
    count = min(max(int(round(share * d)), 1), d)
    chosen = np.argsort(rng.random((n, d)), axis=1)[:, :count]
    win = np.zeros((n, d), dtype=bool)
    np.put_along_axis(win, chosen, True, axis=1)
    return win.reshape((n,) + sample_shape)


def _signs(rng: np.random.Generator, n: int, sample_shape: tuple[int, ...]) -> np.ndarray:
    """Random +-1 per window: per channel for images (the paper's choice), per feature otherwise."""
    if len(sample_shape) in (2, 3) and min(sample_shape[:2]) > 1:
        shape = (n, 1, 1) + tuple(sample_shape[2:])
    else:
        shape = (n,) + tuple(sample_shape)
    return rng.choice(np.array([-1.0, 1.0], dtype="float32"), size=shape)


def square_attack(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    queries: int = 1000,
    p_init: float = 0.3,
    targeted: bool = False,
    seed: int | None = None,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    mask: Any = None,
    batch_size: int = 500,
) -> np.ndarray:
    """Square Attack, L-inf (Andriushchenko et al. 2020, "Square Attack: a query-efficient
    black-box adversarial attack via random search").

    Threat model: black-box, score-based: the attacker sees only the logits
    (or probabilities) of each query, never a gradient; L-inf budget ``eps``;
    at most ``queries`` forward passes per input.

    Args:
        model: Keras classifier that outputs logits (only its outputs are used).
        x: inputs, shape ``(n, ...)``, inside ``clip``.
        y: true labels, or target labels when ``targeted=True``.
        eps: L-inf radius (>= 0).
        queries: forward passes per input, the initial one included (>= 1).
        p_init: share of the input redrawn at first (0 < p_init <= 1); it
            halves on the paper's schedule.  The paper uses 0.05 on ImageNet
            and 0.3 to 0.8 on MNIST.
        targeted: make the model answer ``y`` instead of moving away from it.
        seed: seed of the random search.
        clip: ``(low, high)`` box, scalars or per-feature arrays, or None.
        mask: 1 for features the attacker may change, 0 for fixed ones.
        batch_size: inputs attacked at once.

    Returns:
        Adversarial inputs, float32 NumPy array of ``x``'s shape; an input
        stops changing as soon as it is fooled.
    """
    x, y, lo, hi, m = _checks.prepare(model, x, y, clip, mask)
    eps = check_float(eps, "eps", min=0)
    queries = check_int(queries, "queries", min=1)
    p_init = check_float(p_init, "p_init", min=0, max=1, min_open=True)
    targeted = check_bool(targeted, "targeted")
    seed = check_seed(seed)
    batch_size = check_int(batch_size, "batch_size", min=1)
    if eps == 0:
        return x
    k = _checks.num_classes(model)
    score = backend.compiled(
        model, ("square_margin", bool(targeted), k), _make_margin(bool(targeted), k)
    )
    rng = np.random.default_rng(seed)
    shape = x.shape[1:]
    out = np.empty_like(x)
    size = min(batch_size, len(x))
    for start, kk in _checks.pad_batches(len(x), size):
        xb = x[start : start + kk]
        yb = y[start : start + kk]
        # start: vertical stripes of +-eps (one sign per column and channel)
        if len(shape) in (2, 3) and min(shape[:2]) > 1:
            stripes = rng.choice(np.array([-eps, eps], "float32"), size=(kk, 1) + shape[1:])
        else:
            stripes = rng.choice(np.array([-eps, eps], "float32"), size=(kk,) + shape)
        best = np.clip(xb + stripes * m, lo, hi)
        margin = _scores(score, best, yb, size)
        for i in range(1, queries):
            active = np.flatnonzero(margin > 0)  # only the inputs not fooled yet are queried
            if active.size == 0:
                break
            n = active.size
            win = _windows(rng, n, shape, _share(p_init, i, queries))
            delta = np.where(win, eps * _signs(rng, n, shape), best[active] - xb[active])
            cand = np.clip(xb[active] + delta * m, lo, hi)
            new = _scores(score, cand, yb[active], size)
            take = new < margin[active]
            best[active[take]] = cand[take]
            margin[active[take]] = new[take]
        out[start : start + kk] = best
    return out


def _scores(score, x: np.ndarray, y: np.ndarray, limit: int) -> np.ndarray:
    """Margins of a batch padded to a power of two (at most ``limit``): few shapes, few traces."""
    size = min(limit, 1 << max(3, int(np.ceil(np.log2(len(x))))))
    t = keras.ops.convert_to_tensor
    out = score(t(_checks.padded(x, size)), t(_checks.padded(y, size)))
    return keras.ops.convert_to_numpy(out)[: len(x)]
