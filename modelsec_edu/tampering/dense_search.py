"""Exact, vectorised evaluation of large bit flips in a model's Dense layers (the BFA's second net).

Threat model: as :func:`.bitflip.bit_flip_attack`: a white-box attacker with a
small batch of data who can flip a few bits of the stored 8-bit weights.

Why a second net.  The progressive bit search of Rakin, He and Fan 2019
(https://arxiv.org/abs/1903.12269) ranks flips by the gradient: the loss
change *to first order*.  A sign-bit flip moves a weight by 128 steps, far
outside the region where first order holds, and behind a ReLU it misses the
flips that hurt most: raising the weight into a unit that is *off* for most
samples turns the unit on for all of them, and its outgoing weights then
push every answer towards one class, yet an inactive unit has zero gradient,
so the ranking never proposes the flip.  On some small CNNs this left the
gradient-only search at 50-75% accuracy after 20 flips.

For a ``Dense`` layer the exact effect of one flip is cheap to compute: a
flip of ``kernel[i, j]`` by ``d`` shifts the pre-activation of unit ``j`` by
``d * h[:, i]`` (``h`` the layer's input), a flip of ``bias[j]`` by ``d``
shifts it by ``d``, and the rest of the network is a batched forward pass.
This module proposes, for every unit and both directions, the flips that
shift the unit most on average, and returns the attack's true score after
each (:func:`attack_score`, the objective the search maximises).  Written by hand: no
library offers it.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import (
    check_array,
    check_choice,
    check_classifier,
    check_float,
    check_int,
    check_labels,
)

__all__ = ["attack_score", "cross_entropy", "dense_flip_losses"]

_CHUNK = 1 << 21  # rows x units evaluated at once (8 MB of float32)


def _all_flips(q: np.ndarray) -> np.ndarray:
    """``(n, 8)`` int16 array: the change in value of every element when each of its bits flips."""
    u = q.reshape(-1).view(np.uint8)[:, None]
    flipped = (u ^ (np.uint8(1) << np.arange(8, dtype=np.uint8))).view(np.int8)
    return flipped.astype(np.int16) - q.reshape(-1, 1).astype(np.int16)


def _layer_inputs(model: keras.Model, x: np.ndarray) -> list[np.ndarray] | None:
    """The input of every layer of a ``Sequential`` model on ``x`` (None for other models)."""
    if not isinstance(model, keras.Sequential):
        return None
    h, inputs = keras.ops.convert_to_tensor(x), []
    for layer in model.layers:
        inputs.append(h)
        h = layer(h, training=False)
    return [keras.ops.convert_to_numpy(a) for a in inputs]


def _top_per_unit(shift: np.ndarray, per_unit: int) -> list[tuple[int, int]]:
    """``shift`` is ``(units, m)``: the ``per_unit`` largest and smallest entries of each row."""
    k = min(per_unit, shift.shape[1])
    up = np.argpartition(-shift, k - 1, axis=1)[:, :k]
    down = np.argpartition(shift, k - 1, axis=1)[:, :k]
    return [(j, int(c)) for j in range(shift.shape[0]) for c in (*up[j], *down[j])]


def _check_logits(logits: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(..., n, classes)`` finite logits and ``n`` labels in ``[0, classes)``."""
    logits = check_array(logits, "logits", min_ndim=2, dtype="float64")
    return logits, check_labels(y, "y", n=logits.shape[-2], num_classes=logits.shape[-1])


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(..., n, classes)`` logits: each sample's cross-entropy, ``(..., n)``."""
    return _cross_entropy(*_check_logits(logits, y))


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype="float64")
    top = logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0]
    index = np.broadcast_to(np.asarray(y)[:, None], logits.shape[:-1] + (1,))
    return lse - np.take_along_axis(logits, index, axis=-1)[..., 0]


def attack_score(logits: np.ndarray, y: np.ndarray, *, objective: str, cap: float) -> np.ndarray:
    """The damage the attack maximises, per candidate: ``(..., n, classes)`` logits -> ``(...)``.

    ``"ce"``: the mean cross-entropy, each sample's capped at ``cap``;
    ``"margin"``: minus the mean of ``max(z_true - max_other z, 0)``.
    """
    logits, y = _check_logits(logits, y)
    objective = check_choice(objective, "objective", ("ce", "margin"))
    return _attack_score(logits, y, objective, check_float(cap, "cap", min=0, min_open=True))


def _attack_score(logits: np.ndarray, y: np.ndarray, objective: str, cap: float) -> np.ndarray:
    if objective == "ce":
        return np.minimum(_cross_entropy(logits, y), cap).mean(axis=-1)
    logits = np.asarray(logits, dtype="float64")
    index = np.broadcast_to(y[:, None], logits.shape[:-1] + (1,))
    true = np.take_along_axis(logits, index, axis=-1)[..., 0]
    other = np.where(np.arange(logits.shape[-1]) == y[:, None], -np.inf, logits).max(axis=-1)
    return -np.maximum(true - other, 0).mean(axis=-1)


def _evaluate(layers, act, z, shifts, units, y, cap, objective) -> np.ndarray:
    """The attack's score with column ``units[c]`` of ``z`` shifted by ``shifts[c]``, ``(c, n)``."""
    n, width = z.shape
    step = max(1, _CHUNK // (n * width))
    out = []
    for s in range(0, len(units), step):
        u, d = units[s : s + step], shifts[s : s + step]
        zc = np.repeat(z[None], len(u), axis=0)
        zc[np.arange(len(u)), :, u] += d
        h = act(keras.ops.convert_to_tensor(zc.reshape(-1, width)))
        for layer in layers:
            h = layer(h, training=False)
        logits = keras.ops.convert_to_numpy(h).astype("float64").reshape(len(u), n, -1)
        out.append(_attack_score(logits, y, objective, cap))
    return np.concatenate(out) if out else np.zeros(0)


def dense_flip_losses(
    model: keras.Model,
    q: list[np.ndarray],
    scales: list[float],
    x: np.ndarray,
    y: np.ndarray,
    *,
    cap: float,
    objective: str = "ce",
    per_unit: int = 2,
) -> list[tuple[float, int, int, int]]:
    """``(attack score after the flip, tensor, flat index, bit)``: large flips of every Dense layer.

    ``q`` and ``scales`` are the int8 tensors of ``model.trainable_variables``
    and their scales (the model must compute with ``q * scale``).  For each
    output unit of each Dense layer, the ``per_unit`` kernel flips and the one
    bias flip that shift the unit most up, and most down, on average over
    ``x`` are evaluated exactly.  Returns ``[]`` for a model that is not a
    ``keras.Sequential`` (the gradient search alone then serves).
    """
    k = check_classifier(model)
    if not isinstance(q, (list, tuple)):
        raise TypeError(f"q must be a list of int8 arrays, got {type(q).__name__}")
    if len(q) != len(model.trainable_variables) or len(scales) != len(q):
        raise ValueError(
            f"q and scales must hold one entry per trainable variable "
            f"({len(model.trainable_variables)}), got {len(q)} and {len(scales)}"
        )
    x = check_array(x, "x")
    y = check_labels(y, "y", n=len(x), num_classes=k)
    cap = check_float(cap, "cap", min=0, min_open=True)
    objective = check_choice(objective, "objective", ("ce", "margin"))
    per_unit = check_int(per_unit, "per_unit", min=1)
    inputs = _layer_inputs(model, x)
    if inputs is None:
        return []
    where = {id(v): t for t, v in enumerate(model.trainable_variables)}
    tried: list[tuple[float, int, int, int]] = []
    for pos, layer in enumerate(model.layers):
        if not isinstance(layer, keras.layers.Dense) or inputs[pos].ndim != 2:
            continue
        tk, tb = where.get(id(layer.kernel)), where.get(id(getattr(layer, "bias", None)), None)
        if tk is None:
            continue
        h = inputs[pos].astype("float32")
        w = q[tk].astype("float32") * scales[tk]
        z = h @ w
        d_kernel = _all_flips(q[tk]).reshape(*w.shape, 8).astype("float32") * scales[tk]
        mean_shift = d_kernel * h.mean(axis=0)[:, None, None]  # (in, units, 8)
        picks = _top_per_unit(mean_shift.transpose(1, 0, 2).reshape(w.shape[1], -1), per_unit)
        units = [j for j, _ in picks]
        rows = [(c // 8, j, c % 8) for j, c in picks]
        shifts = [d_kernel[i, j, b] * h[:, i] for i, j, b in rows]
        cands = [(tk, i * w.shape[1] + j, b) for i, j, b in rows]
        if tb is not None:
            z = z + q[tb].astype("float32") * scales[tb]
            d_bias = _all_flips(q[tb]).astype("float32") * scales[tb]  # (units, 8)
            for j in range(w.shape[1]):
                for b in (int(d_bias[j].argmax()), int(d_bias[j].argmin())):
                    units.append(j)
                    shifts.append(np.full(len(h), d_bias[j, b], dtype="float32"))
                    cands.append((tb, j, b))
        act = layer.activation if layer.activation is not None else (lambda v: v)
        losses = _evaluate(
            model.layers[pos + 1 :], act, z, np.stack(shifts), np.array(units), y, cap, objective
        )
        tried.extend((float(loss), t, i, b) for loss, (t, i, b) in zip(losses, cands))
    return tried
