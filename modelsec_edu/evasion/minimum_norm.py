"""DeepFool: the smallest change that crosses the nearest decision boundary.

Gradient attacks with a budget answer "is there an adversarial example within
eps?".  A minimum-norm attack answers the other question, "how small a change
suffices?", with no eps at all.  DeepFool (Moosavi-Dezfooli, Fawzi & Frossard
2016) linearises the classifier around the current point: for each other class
``k`` the boundary with the true class ``y`` is the hyperplane
``f_k + w_k . r = 0``, with ``f_k = z_k - z_y`` and ``w_k = grad(z_k - z_y)``.
The closest hyperplane is at distance ``|f_k| / ||w_k||_q`` (``q`` the dual norm:
2 for L2, 1 for L-inf); DeepFool steps just onto it, and repeats until the
label changes, usually within a few rounds (chapter 03 prints how many images
each number of rounds fools).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import check_choice, check_float, check_int

from . import _checks, norms

__all__ = ["deepfool"]


def _dual_norm(w, norm: str):
    axes = tuple(range(1, len(w.shape)))
    if norm == "l2":
        return keras.ops.sqrt(keras.ops.sum(keras.ops.square(w), axis=axes))
    return keras.ops.sum(keras.ops.abs(w), axis=axes)


def _make_deepfool(norm: str, k: int):
    def make():
        def fn(logits, x, y, overshoot, steps, lo, hi, mask):
            onehot_y = keras.ops.one_hot(y, k)
            expand = (-1,) + (1,) * (len(x.shape) - 1)

            def step_of(xa):
                # w_j = grad(z_j - z_y) for every class j: k backward passes
                fs, ws = [], []
                for j in range(k):

                    def margin(xx, j=j):
                        z = logits(xx)
                        d = z[:, j] - keras.ops.sum(z * onehot_y, axis=-1)
                        return keras.ops.sum(d), d

                    _, f, w = backend.value_and_grad(margin)(xa)
                    fs.append(f)
                    ws.append(w * mask)
                f = keras.ops.stack(fs, axis=1)  # (n, k)
                w = keras.ops.stack(ws, axis=1)  # (n, k, ...)
                wn = keras.ops.stack([_dual_norm(wj, norm) for wj in ws], axis=1)
                dist = keras.ops.abs(f) / (wn + norms.TINY)
                dist = keras.ops.where(onehot_y > 0, np.inf, dist)  # never the true class itself
                pick = keras.ops.one_hot(keras.ops.argmin(dist, axis=1), k)
                f_l = keras.ops.sum(f * pick, axis=1)
                wn_l = keras.ops.sum(wn * pick, axis=1)
                w_l = keras.ops.sum(
                    w * keras.ops.reshape(pick, (-1, k) + (1,) * (len(x.shape) - 1)), axis=1
                )
                size = (keras.ops.abs(f_l) + 1e-4) / (wn_l + norms.TINY)
                if norm == "l2":
                    r = keras.ops.reshape(size / (wn_l + norms.TINY), expand) * w_l
                else:
                    r = keras.ops.reshape(size, expand) * keras.ops.sign(w_l)
                return r

            def fooled(xa):
                return keras.ops.argmax(logits(xa), axis=-1) != y

            def place(r_tot):
                return keras.ops.clip(x + (1.0 + overshoot) * r_tot, lo, hi)

            def cond(i, r_tot, active):
                return keras.ops.logical_and(i < steps, keras.ops.any(active))

            def body(i, r_tot, active):
                r = step_of(place(r_tot))
                r_tot = r_tot + keras.ops.reshape(keras.ops.cast(active, "float32"), expand) * r
                return (
                    i + 1,
                    r_tot,
                    keras.ops.logical_and(active, keras.ops.logical_not(fooled(place(r_tot)))),
                )

            active0 = keras.ops.logical_not(fooled(x))
            _, r_tot, _ = keras.ops.while_loop(cond, body, (0, keras.ops.zeros_like(x), active0))
            return place(r_tot)

        return fn

    return make


def deepfool(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    norm: str = "l2",
    steps: int = 50,
    overshoot: float = 0.02,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    mask: Any = None,
    batch_size: int = 100,
) -> np.ndarray:
    """DeepFool (Moosavi-Dezfooli et al. 2016, "DeepFool: a simple and accurate method
    to fool deep neural networks"): a near-minimal untargeted perturbation.

    Threat model: white-box, no budget; the attacker wants the *smallest*
    change (in L2 or L-inf) that changes the label.  The size of what it finds
    bounds the model's robustness from above at each input; combine it with
    :func:`modelsec_edu.evaluation.accuracy_from_norms` for a whole
    accuracy-against-eps curve from one run.

    Args:
        model: Keras classifier that outputs logits.
        x: inputs, shape ``(n, ...)``, inside ``clip``.
        y: true labels (the attack is untargeted).
        norm: ``"l2"`` or ``"linf"``, the norm being minimised.
        steps: at most this many linearise-and-step rounds (>= 1); inputs stop
            as soon as their label changes.
        overshoot: the step goes ``1 + overshoot`` times past the boundary, so
            the example lands on the far side despite rounding.
        clip: ``(low, high)`` box, scalars or per-feature arrays, or None.
        mask: 1 for features the attacker may change, 0 for fixed ones.
        batch_size: inputs attacked at once.  Each round takes one backward pass per
            class, and TensorFlow may run them side by side, so the peak memory is up to
            ``k`` times one batch's activations: with the small CNN, fresh processes
            peaked at 845 or 1,234 MB with batches of 300 (which one varies run to run) and
            at 775-914 MB with batches of 100 (six processes each, 2-core build VM, 2026-12-04).

    Returns:
        Adversarial inputs, float32 NumPy array of ``x``'s shape.  Inputs that
        are misclassified already come back unchanged; an input the box or the
        mask keeps from crossing within ``steps`` comes back at its last point.
    """
    x, y, lo, hi, m = _checks.prepare(model, x, y, clip, mask)
    norm = check_choice(norm, "norm", _checks.NORMS)
    steps = check_int(steps, "steps", min=1)
    overshoot = check_float(overshoot, "overshoot", min=0)
    batch_size = check_int(batch_size, "batch_size", min=1)
    k = _checks.num_classes(model)
    call = backend.compiled(model, ("deepfool", norm, k), _make_deepfool(norm, k))
    t = keras.ops.convert_to_tensor
    consts = [t(np.float32(overshoot)), t(np.int32(steps)), t(lo), t(hi), t(m)]
    n = len(x)
    size = min(batch_size, n)
    out = np.empty_like(x)
    for start, kk in _checks.pad_batches(n, size):
        xb = _checks.padded(x[start : start + kk], size)
        yb = _checks.padded(y[start : start + kk], size)
        out[start : start + kk] = keras.ops.convert_to_numpy(call(t(xb), t(yb), *consts))[:kk]
    return out
