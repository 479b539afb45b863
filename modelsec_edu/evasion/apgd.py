"""Auto-PGD: PGD that chooses its own step size (APGD-CE, APGD-DLR, APGD-T).

The threat model: a white-box attacker who knows the weights changes a test
input by at most ``eps`` (L-inf or L2) to change the model's answer.

Croce & Hein (2020, "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks", https://arxiv.org/abs/2003.01690)
found that many published robustness figures came from PGD run with a step
size that did not suit the model.  APGD removes the step size as a choice:

* it starts with ``eta = 2 * eps`` and a momentum step
  ``x_{k+1} = P(x_k + 0.75 (z_{k+1} - x_k) + 0.25 (x_k - x_{k-1}))``, where
  ``z_{k+1} = P(x_k + eta * direction(grad))`` and ``P`` projects onto the ball
  and the clip box;
* at checkpoints ``w_j = ceil(p_j * steps)`` with ``p_0 = 0``, ``p_1 = 0.22`` and
  ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)`` it halves ``eta`` for
  every input whose loss rose in fewer than 75% of the steps since the last
  checkpoint, or whose step size and best loss both stayed the same; such an
  input restarts from its best point so far;
* it keeps, per input, the first point that fools the model and else the point
  of highest loss.

Two losses: the cross-entropy (APGD-CE) and the Difference of Logits Ratio
``DLR = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`` (``z_pi`` the logits sorted
in decreasing order), which a rescaling of the logits cannot defeat.  The
targeted DLR is ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``; APGD-T runs it
towards each of the ``n_targets`` classes the model ranks highest after the true
one.  Where this differs from the reference code (github.com/fra31/auto-attack):
the random start is uniform in the ball (not scaled onto its surface), and the
oscillation test uses the paper's strict "fewer than 75%".

One compiled step (see :mod:`modelsec_edu.backend`) serves every step, every
step size and every batch of one padded size; the checkpoint logic runs in
NumPy on one number per input.  Used in chapters 03 and 06 (via
:func:`modelsec_edu.evasion.worst_case`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from modelsec_edu import backend, models, validation

from . import _checks, norms

__all__ = ["APGD_LOSSES", "apgd", "apgd_t", "checkpoints", "dlr_loss"]

APGD_LOSSES = ("ce", "dlr", "ce_targeted", "dlr_targeted")
MOMENTUM = 0.75
RHO = 0.75


def checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step size (Croce & Hein 2020, Sec. 3.2)."""
    steps = validation.check_int(steps, "steps", min=1)
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted(
        {int(np.ceil(q * steps - 1e-9)) for q in p[1:] if 0 < np.ceil(q * steps - 1e-9) < steps}
    )


def dlr_loss(z: Any, y: Any, target: Any = None) -> Any:
    """Per-example DLR loss of logits ``z`` (keras.ops); the targeted one when ``target`` is given.

    Larger means closer to fooling the model.  Needs 3 classes (targeted: 4).
    """
    z = _checks.tensor_batch(z, "z")
    k = z.shape[-1]
    if len(z.shape) != 2 or (k is not None and k < (3 if target is None else 4)):
        raise ValueError(
            f"z must be logits of shape (n, classes) with at least {3 if target is None else 4} "
            f"classes, got shape {tuple(z.shape)}"
        )
    y = _checks.tensor_labels(y, "y", z.shape[0])
    if target is not None:
        target = _checks.tensor_labels(target, "target", z.shape[0])
    onehot = keras.ops.one_hot(y, k)
    z_y = keras.ops.sum(z * onehot, axis=-1)
    zs = keras.ops.sort(z, axis=-1)  # ascending: zs[:, -1] is the largest logit
    if target is None:
        other = keras.ops.max(z - 1e9 * onehot, axis=-1)
        return -(z_y - other) / (zs[:, -1] - zs[:, -3] + 1e-12)
    z_t = keras.ops.sum(z * keras.ops.one_hot(target, k), axis=-1)
    return -(z_y - z_t) / (zs[:, -1] - 0.5 * (zs[:, -3] + zs[:, -4]) + 1e-12)


def _loss_fn(name: str) -> Callable[[Any, Any, Any], Any]:
    def ce(z, y, t):
        return keras.ops.sparse_categorical_crossentropy(y, z, from_logits=True)

    def ce_t(z, y, t):
        return -keras.ops.sparse_categorical_crossentropy(t, z, from_logits=True)

    return {
        "ce": ce,
        "ce_targeted": ce_t,
        "dlr": lambda z, y, t: dlr_loss(z, y),
        "dlr_targeted": lambda z, y, t: dlr_loss(z, y, t),
    }[name]


def _make_step(loss_name: str, norm: str):
    """``step(xk, xprev, gk, eta, alpha, x, y, t, eps, lo, hi, mask) -> (x_new, loss, pred, g)``."""
    per_loss = _loss_fn(loss_name)

    def make():
        def fn(logits, xk, xprev, gk, eta, alpha, x, y, t, eps, lo, hi, mask):
            def project(xa):
                xa = x + norms.project((xa - x) * mask, eps, norm)
                return keras.ops.clip(xa, lo, hi)

            z = project(xk + eta * norms.direction(gk, norm))
            x_new = project(xk + alpha * (z - xk) + (1.0 - alpha) * (xk - xprev))

            def total(xa):
                out = logits(xa)
                per = per_loss(out, y, t)
                return keras.ops.sum(per), (per, keras.ops.argmax(out, axis=-1))

            _, (per, pred), g = backend.value_and_grad(total)(x_new)
            return x_new, per, pred, g

        return fn

    return make


def _make_verdict(loss_name: str):
    per_loss = _loss_fn(loss_name)

    def make():
        def fn(logits, xa, y, t):
            out = logits(xa)  # float32 whatever the steps used
            return per_loss(out, y, t), keras.ops.argmax(out, axis=-1)

        return fn

    return make


def _step_fn(model, loss_name, norm, precision):
    key = ("apgd_step", loss_name, norm)
    if precision == "bfloat16":
        try:
            return backend.compiled(
                model, key, _make_step(loss_name, norm), compute_dtype="bfloat16"
            )
        except ValueError:  # a model Keras cannot rebuild in bfloat16: float32 it is
            pass
    return backend.compiled(model, key, _make_step(loss_name, norm))


def _run_batch(step, xb, yb, tb, delta0, box, steps, success):
    """APGD on one padded batch; returns x_out (NumPy); success is judged on the step's logits."""
    t = keras.ops.convert_to_tensor
    n = len(xb)
    expand = (n,) + (1,) * (xb.ndim - 1)
    x_t = t(xb)
    const = (x_t, t(yb), t(tb), *box)  # x, y, target, eps, lo, hi, mask
    eta = np.full(n, 2.0 * float(box[0]), dtype="float32")
    # the first call projects the start and evaluates it (eta = 0, alpha = 1)
    zero = t(np.zeros(expand, "float32"))
    xk, loss, pred, g = step(
        t(xb + delta0), x_t, t(np.zeros_like(xb)), zero, t(np.float32(1)), *const
    )
    loss = keras.ops.convert_to_numpy(loss).astype("float64")
    x_best, g_best, loss_best = xk, g, loss.copy()
    fooled = success(keras.ops.convert_to_numpy(pred))
    x_adv = keras.ops.where(t(fooled.reshape(expand)), xk, x_t)
    xprev = xk
    marks = set(checkpoints(steps)) if steps > 1 else set()
    last_mark, increases = 0, np.zeros(n)
    eta_last, best_last = eta.copy(), loss_best.copy()
    for k in range(steps):
        alpha = np.float32(1.0 if k == 0 else MOMENTUM)
        x_new, new_loss, pred, g = step(xk, xprev, g, t(eta.reshape(expand)), t(alpha), *const)
        new_loss = keras.ops.convert_to_numpy(new_loss).astype("float64")
        now = success(keras.ops.convert_to_numpy(pred))
        first = now & ~fooled
        if first.any():
            x_adv = keras.ops.where(t(first.reshape(expand)), x_new, x_adv)
            fooled |= now
        increases += new_loss > loss
        better = new_loss > loss_best
        if better.any():
            b = t(better.reshape(expand))
            x_best, g_best = keras.ops.where(b, x_new, x_best), keras.ops.where(b, g, g_best)
            loss_best = np.where(better, new_loss, loss_best)
        xprev, xk, loss = xk, x_new, new_loss
        if k + 1 in marks:
            stalled = (increases < RHO * (k + 1 - last_mark)) | (
                (eta == eta_last) & (loss_best <= best_last)
            )
            eta_last, best_last = eta.copy(), loss_best.copy()
            if stalled.any():
                eta = np.where(stalled, eta / 2, eta).astype("float32")
                s = t(stalled.reshape(expand))
                xk, g = keras.ops.where(s, x_best, xk), keras.ops.where(s, g_best, g)
                loss = np.where(stalled, loss_best, loss)
            last_mark, increases = k + 1, np.zeros(n)
    out = keras.ops.where(t(fooled.reshape(expand)), x_adv, x_best)
    return keras.ops.convert_to_numpy(out)


def _pad_size(n: int, limit: int) -> int:
    """A power of two >= n (at most ``limit``): subsets of every size share a few traces."""
    return min(limit, 1 << max(3, int(np.ceil(np.log2(max(n, 1))))))


def _attack(model, x, y, target, *, loss, hit, **o):
    """APGD over batches and restarts; ``hit(pred, y, target)`` says what counts as success."""
    step = _step_fn(model, loss, o["norm"], o["precision"])
    verdict = backend.compiled(model, ("apgd_verdict", loss), _make_verdict(loss))
    rng = np.random.default_rng(o["seed"])
    t = keras.ops.convert_to_tensor
    box = (t(np.float32(o["eps"])), t(o["lo"]), t(o["hi"]), t(o["m"]))
    n = len(x)
    size = _pad_size(n, o["batch_size"])
    best = x.copy()
    best_score = np.full(n, -np.inf)
    for _ in range(o["restarts"]):
        todo = np.flatnonzero(best_score < 1e6)  # a restart only for inputs not fooled yet
        for start, k in _checks.pad_batches(len(todo), size):
            idx = todo[start : start + k]
            xb, yb, tb = (_checks.padded(a[idx], size) for a in (x, y, target))
            delta0 = norms.random_start(rng, xb.shape, o["eps"], o["norm"])
            x_adv = _run_batch(
                step, xb, yb, tb, delta0, box, o["steps"], lambda p, yb=yb, tb=tb: hit(p, yb, tb)
            )
            per, pred = verdict(t(x_adv), t(yb), t(tb))
            per = keras.ops.convert_to_numpy(per)[:k].astype("float64")
            pred = keras.ops.convert_to_numpy(pred)[:k]
            score = hit(pred, yb[:k], tb[:k]) * 1e6 + per
            better = score > best_score[idx]
            best[idx[better]] = x_adv[:k][better]
            best_score[idx[better]] = score[better]
    return best


def _prepare(model, x, y, eps, steps, restarts, norm, seed, clip, mask, batch_size, precision):
    x, y, lo, hi, m = _checks.prepare(model, x, y, clip, mask)
    opts = {
        "eps": validation.check_float(eps, "eps", min=0),
        "steps": validation.check_int(steps, "steps", min=1),
        "restarts": validation.check_int(restarts, "restarts", min=1),
        "norm": validation.check_choice(norm, "norm", _checks.NORMS),
        "seed": validation.check_seed(seed),
        "batch_size": validation.check_int(batch_size, "batch_size", min=1),
        "precision": _checks.precision(precision),
        "lo": lo,
        "hi": hi,
        "m": m,
    }
    return x, y, opts


def apgd(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    loss: str = "ce",
    steps: int = 100,
    restarts: int = 1,
    target: Any = None,
    norm: str = "linf",
    seed: int | None = None,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    mask: Any = None,
    batch_size: int = 500,
    precision: str = "float32",
) -> np.ndarray:
    """Auto-PGD (Croce & Hein 2020, https://arxiv.org/abs/2003.01690): PGD with its own step size.

    Threat model: white-box; ``||x_adv - x|| <= eps`` in the chosen norm.

    Args:
        model: Keras classifier that outputs logits.
        x: inputs, shape ``(n, ...)``, inside ``clip``.
        y: the true labels (also for the targeted losses, which need them).
        eps: radius of the ball (>= 0).
        loss: ``"ce"`` (APGD-CE), ``"dlr"`` (APGD-DLR), or a targeted loss
            ``"ce_targeted"``/``"dlr_targeted"``, which needs ``target``.
        steps: iterations per restart (the paper uses 100).
        restarts: runs from new random starts, only for inputs not fooled yet.
        target: with a targeted loss, the class each input should become.
        norm: ``"linf"`` or ``"l2"``.
        seed: seed of the random starts.
        clip: ``(low, high)`` box, scalars or per-feature arrays, or None.
        mask: 1 for features the attacker may change, 0 for fixed ones.
        batch_size: inputs attacked at once (batches are padded to a power of two).
        precision: arithmetic of the steps (``"float32"``, ``"bfloat16"`` or
            ``"auto"``, as in :func:`.gradient.pgd`); the verdict that picks the
            result is float32.

    Returns:
        float32 adversarial inputs of ``x``'s shape: per input the first point
        that fooled the model (reached ``target`` for a targeted loss), else the
        point of highest loss.
    """
    x, y, o = _prepare(
        model, x, y, eps, steps, restarts, norm, seed, clip, mask, batch_size, precision
    )
    loss = validation.check_choice(loss, "loss", APGD_LOSSES)
    k = _checks.num_classes(model)
    if loss.endswith("_targeted"):
        if target is None:
            raise ValueError(f"loss={loss!r} needs target: the class each input should become")
        target = np.asarray(target)
        if target.shape != y.shape or not np.issubdtype(target.dtype, np.integer):
            raise ValueError(
                f"target must be integer labels of shape {y.shape}, got {target.shape}"
            )
        if target.min() < 0 or target.max() >= k:
            raise ValueError(f"target must be in [0, {k - 1}]")
        target = target.astype("int32")

        def hit(p, yy, tt):
            return p == tt
    else:
        if target is not None:
            raise ValueError(f"target is only used with a targeted loss, not loss={loss!r}")
        target = y

        def hit(p, yy, tt):
            return p != yy

    need = 4 if loss == "dlr_targeted" else 3 if loss == "dlr" else 2
    if k < need:
        raise ValueError(f"loss={loss!r} needs at least {need} classes, the model has {k}")
    if o["eps"] == 0:
        return x
    return _attack(model, x, y, target, loss=loss, hit=hit, **o)


def apgd_t(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    n_targets: int = 9,
    steps: int = 100,
    norm: str = "linf",
    seed: int | None = None,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    mask: Any = None,
    batch_size: int = 500,
    precision: str = "float32",
) -> np.ndarray:
    """APGD-T: targeted APGD-DLR towards each of the ``n_targets`` runner-up classes in turn.

    The targets of an input are the classes with the 2nd, 3rd, ... highest
    clean logit; each target gets one run of ``steps`` iterations, only on the
    inputs still classified correctly.  Success here is any wrong answer
    (AutoAttack's criterion), not only the target.

    Threat model: white-box; ``||x_adv - x|| <= eps``.  ``y`` holds the true labels.
    """
    x, y, o = _prepare(model, x, y, eps, steps, 1, norm, seed, clip, mask, batch_size, precision)
    k = _checks.num_classes(model)
    if k < 4:
        raise ValueError(f"APGD-T needs at least 4 classes, the model has {k}")
    n_targets = validation.check_int(n_targets, "n_targets", min=1)
    n_targets = min(n_targets, k - 1)
    if o["eps"] == 0:
        return x
    ranked = np.argsort(-models.predict_logits(model, x), axis=1)
    out = x.copy()
    fooled = models.predict_labels(model, x) != y
    seed = o.pop("seed")
    for r in range(1, n_targets + 1):
        todo = np.flatnonzero(~fooled)
        if todo.size == 0:
            break
        target = ranked[todo, r].astype("int32")
        adv = _attack(
            model,
            x[todo],
            y[todo],
            target,
            loss="dlr_targeted",
            hit=lambda p, yy, tt: p != yy,
            seed=None if seed is None else seed + r,
            **o,
        )
        now = models.predict_labels(model, adv) != y[todo]
        out[todo[now]] = adv[now]
        fooled[todo[now]] = True
    return out
