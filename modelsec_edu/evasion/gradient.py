"""Gradient attacks: FGSM, BIM and PGD, one projected loop for all of them.

The threat model: a white-box attacker who knows the weights changes a test
input by at most ``eps`` (in the L-inf or L2 norm) to change the model's answer.

One loop does all the gradient attacks (Madry et al. 2018)::

    x_adv <- clip(x + project(x_adv + step_size * direction(grad) - x))   `steps` times

and only ``direction`` and ``project`` depend on the norm (see :mod:`.norms`).
FGSM (Goodfellow et al. 2015) is that loop with one step of size ``eps`` from
``x``; BIM (Kurakin et al. 2017) is it without a random start.  The whole loop
is one compiled function (see :mod:`modelsec_edu.backend`), and
:func:`pgd_tensor` exposes it on tensors for use *inside* compiled code, such as
the inner maximisation of adversarial training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from modelsec_edu import backend
from modelsec_edu.validation import (
    check_bool,
    check_choice,
    check_clip,
    check_float,
    check_int,
    check_seed,
)

from . import _checks, norms

__all__ = ["fgsm", "pgd", "pgd_tensor"]


def pgd_tensor(
    logits_fn: Callable[[Any], Any],
    x: Any,
    y: Any,
    *,
    eps: Any,
    step_size: Any,
    steps: int,
    norm: str = "linf",
    delta0: Any = None,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    targeted: bool = False,
    mask: Any = None,
) -> Any:
    """The PGD loop on backend tensors, for use inside compiled code.

    No NumPy, no Python loop over the batch: ``steps`` is unrolled into one
    ``keras.ops.fori_loop``, so this runs inside ``tf.function``/``jax.jit``,
    for example in the ``loss_fn`` of :func:`modelsec_edu.backend.train_step`
    (adversarial training, Madry et al. 2018)::

        def loss_fn(forward, x, y):
            x_adv = attacks.pgd_tensor(lambda t: forward(t, training=False), x, y,
                                       eps=0.3, step_size=0.01, steps=40)
            return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(
                y, forward(x_adv), from_logits=True))

    Threat model: white-box; ``||x_adv - x|| <= eps`` in the chosen norm.

    Args:
        logits_fn: maps an input batch tensor to logits (differentiable).
        x: input batch tensor (float32).
        y: integer labels tensor, or targets when ``targeted=True``.
        eps: radius of the ball (float or scalar tensor).
        step_size: size of each step in the norm (float or scalar tensor).
        steps: number of steps: a Python int >= 1, or a scalar int tensor (then one
            trace serves every count; JAX cannot differentiate through such a loop,
            which the attack never needs).
        norm: ``"linf"`` or ``"l2"``.
        delta0: start perturbation (e.g. :func:`.norms.random_start`), or None to
            start at ``x``; it is projected before the first step.
        clip: ``(low, high)`` scalars or tensors broadcasting to ``x``, or None.
        targeted: descend the loss of ``y`` instead of ascending it.
        mask: 1 for mutable features, 0 for fixed ones (broadcasts to ``x``), or None.

    Returns:
        ``x_adv``, a tensor of ``x``'s shape with its gradient stopped (the
        attack is not differentiated through).  Inputs are not checked here:
        :func:`pgd` is the checked entry point.
    """
    norm = check_choice(norm, "norm", _checks.NORMS)
    targeted = check_bool(targeted, "targeted")
    if not callable(logits_fn):
        raise TypeError(f"logits_fn must be callable, got {type(logits_fn).__name__}")
    x = _checks.tensor_batch(x, "x")
    # y labels logits_fn's output, which may hold more rows than x (a patch over a batch)
    y = _checks.tensor_labels(y, "y", None)
    if tuple(y.shape)[:1] == (0,):  # a static empty batch (a traced one has shape None)
        raise ValueError("y must hold at least one label, got an empty batch")
    if isinstance(steps, (int, np.integer)) or not hasattr(steps, "dtype"):
        steps = check_int(steps, "steps", min=1)
    if clip is not None and not (
        isinstance(clip, (tuple, list)) and any(hasattr(v, "shape") for v in clip)
    ):
        clip = check_clip(clip)

    def loss(xa):
        per = keras.ops.sparse_categorical_crossentropy(y, logits_fn(xa), from_logits=True)
        total = keras.ops.sum(per)  # a sum keeps each example's gradient independent of the batch
        return (-total if targeted else total), per

    grad_fn = backend.value_and_grad(loss)

    def project(xa):
        delta = xa - x
        if mask is not None:
            delta = delta * mask
        xa = x + norms.project(delta, eps, norm)
        if clip is not None:
            # x is inside the box, so clipping only shrinks delta: the ball still holds
            xa = keras.ops.clip(xa, clip[0], clip[1])
        return xa

    def body(_, xa):
        _, _, g = grad_fn(xa)
        return project(xa + step_size * norms.direction(g, norm))

    start = x if delta0 is None else x + delta0
    x_adv = keras.ops.fori_loop(0, steps, body, project(start))
    return keras.ops.stop_gradient(x_adv)


def _make_pgd(norm: str, targeted: bool):
    """All the steps in one compiled loop, then the float32 verdict."""

    def make():
        def fn(logits, x, y, delta0, eps, step_size, steps, lo, hi, mask, *, logits_f32):
            x_adv = pgd_tensor(
                logits,
                x,
                y,
                eps=eps,
                step_size=step_size,
                steps=steps,
                norm=norm,
                delta0=delta0,
                clip=(lo, hi),
                targeted=targeted,
                mask=mask,
            )
            return (x_adv, *_verdict(logits_f32, x_adv, y))

        return fn

    return make


def _make_step(norm: str, targeted: bool):
    """One projected step from ``xa`` (the loop then runs in Python)."""

    def make():
        def fn(logits, xa, x, y, eps, step_size, lo, hi, mask):
            return pgd_tensor(
                logits,
                x,
                y,
                eps=eps,
                step_size=step_size,
                steps=1,
                norm=norm,
                delta0=xa - x,
                clip=(lo, hi),
                targeted=targeted,
                mask=mask,
            )

        return fn

    return make


def _verdict(logits, x_adv, y):
    z = logits(x_adv)  # always float32, whatever arithmetic the steps used
    return keras.ops.sparse_categorical_crossentropy(y, z, from_logits=True), keras.ops.argmax(
        z, axis=-1
    )


def _compiled(model, key, make, precision):
    if precision == "bfloat16":
        try:
            return backend.compiled(model, key, make, compute_dtype="bfloat16")
        except ValueError:  # a model Keras cannot rebuild in bfloat16: float32 it is
            pass
    return backend.compiled(model, key, make)


def _pgd_runner(model, norm: str, targeted: bool, precision: str):
    """``run(x, y, delta0, eps, step_size, steps, lo, hi, mask) -> (x_adv, loss, pred)`` on tensors.

    One trace serves every step count.  Where :func:`backend.loops_in_graph`
    says so (JAX) the steps run in one compiled loop; elsewhere a Python loop
    calls one compiled step, which TensorFlow runs faster (measured in
    ``bench/attacks_speed.py``).
    """
    if backend.loops_in_graph():
        loop = _compiled(model, ("pgd", norm, targeted), _make_pgd(norm, targeted), precision)

        def run(x, y, delta0, eps, step_size, steps, lo, hi, mask):
            return loop(
                x,
                y,
                delta0,
                eps,
                step_size,
                keras.ops.convert_to_tensor(np.int32(steps)),
                lo,
                hi,
                mask,
            )

        return run
    step = _compiled(model, ("pgd_step", norm, targeted), _make_step(norm, targeted), precision)
    verdict = backend.compiled(model, ("pgd_verdict",), lambda: _verdict)

    def run(x, y, delta0, eps, step_size, steps, lo, hi, mask):
        xa = x + delta0
        for _ in range(steps):
            xa = step(xa, x, y, eps, step_size, lo, hi, mask)
        return (xa, *verdict(xa, y))

    return run


def pgd(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    step_size: float,
    steps: int,
    norm: str = "linf",
    random_start: bool = True,
    restarts: int = 1,
    seed: int | None = None,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    targeted: bool = False,
    mask: Any = None,
    batch_size: int = 500,
    precision: str = "auto",
) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018, "Towards Deep Learning Models
    Resistant to Adversarial Attacks").

    Threat model: white-box; ``||x_adv - x|| <= eps`` in the chosen norm.

    Args:
        model: Keras classifier that outputs logits.
        x: inputs, shape ``(n, ...)``, inside ``clip`` (NumPy or backend tensor).
        y: true labels, or target labels when ``targeted=True``.
        eps: radius of the perturbation ball (>= 0).
        step_size: size of each step in the norm (``2.5 * eps / steps`` is Madry's rule).
        steps: number of gradient steps (>= 1).
        norm: ``"linf"`` or ``"l2"``.
        random_start: start from a uniform point of the ball instead of ``x``.
        restarts: independent runs; per input the strongest result is kept
            (misclassified first, then the highest loss).
        seed: seed of the random start, for repeatable runs.
        clip: ``(low, high)``, scalars or per-feature arrays, or None.  After
            every step ``x + delta`` is projected into this box *and* the ball.
        targeted: move towards ``y`` instead of away from it.
        mask: 1 for features the attacker may change, 0 for fixed ones.
        batch_size: inputs attacked at once.
        precision: arithmetic of the gradient steps: ``"float32"``,
            ``"bfloat16"`` (about twice as fast where the hardware has bfloat16
            units), or ``"auto"``: :func:`modelsec_edu.backend.fast_dtype`.  The perturbation,
            the projections and the final verdict that picks the strongest
            restart are float32 in every case.

    Returns:
        Adversarial inputs, float32 NumPy array of ``x``'s shape.
    """
    x, y, lo, hi, m = _checks.prepare(model, x, y, clip, mask)
    eps = check_float(eps, "eps", min=0)
    step_size = check_float(step_size, "step_size", min=0)
    steps = check_int(steps, "steps", min=1)
    restarts = check_int(restarts, "restarts", min=1)
    batch_size = check_int(batch_size, "batch_size", min=1)
    norm = check_choice(norm, "norm", _checks.NORMS)
    seed = check_seed(seed)
    random_start = check_bool(random_start, "random_start")
    targeted = check_bool(targeted, "targeted")
    precision = _checks.precision(precision)
    if eps == 0:
        return x

    run = _pgd_runner(model, norm, targeted, precision)
    rng = np.random.default_rng(seed)
    t = keras.ops.convert_to_tensor
    eps_t, step_t, lo_t, hi_t, m_t = (
        t(np.float32(eps)),
        t(np.float32(step_size)),
        t(lo),
        t(hi),
        t(m),
    )

    n = len(x)
    size = min(batch_size, n)  # every batch is padded to this size: one trace serves them all
    best = x.copy()
    best_score = np.full(n, -np.inf)
    for _ in range(restarts):
        for start, k in _checks.pad_batches(n, size):
            xb = _checks.padded(x[start : start + k], size)
            yb = _checks.padded(y[start : start + k], size)
            if random_start:
                delta0 = norms.random_start(rng, xb.shape, eps, norm)
            else:
                delta0 = np.zeros_like(xb)
            x_adv, per, pred = run(t(xb), t(yb), t(delta0), eps_t, step_t, steps, lo_t, hi_t, m_t)
            x_adv = keras.ops.convert_to_numpy(x_adv)[:k]
            per = keras.ops.convert_to_numpy(per)[:k].astype("float64")
            pred = keras.ops.convert_to_numpy(pred)[:k]
            success = (pred == yb[:k]) if targeted else (pred != yb[:k])
            score = success * 1e6 + (-per if targeted else per)
            better = score > best_score[start : start + k]
            best[start : start + k][better] = x_adv[better]
            best_score[start : start + k][better] = score[better]
    return best


def fgsm(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    targeted: bool = False,
    clip: tuple[Any, Any] | None = (0.0, 1.0),
    mask: Any = None,
    batch_size: int = 500,
    precision: str = "float32",
) -> np.ndarray:
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy 2015, "Explaining and
    Harnessing Adversarial Examples"): ``x + eps * sign(grad_x loss)``, clipped.

    Threat model: white-box, L-inf budget ``eps``, one gradient evaluation.
    With ``targeted=True``, ``y`` holds the targets and the step goes down
    their loss.  Equal to :func:`pgd` with one step of size ``eps`` and no
    random start, in float32 by default: one step is cheap, and a single sign
    is where bfloat16's rounding would show.
    """
    return pgd(
        model,
        x,
        y,
        eps=eps,
        step_size=eps,
        steps=1,
        norm="linf",
        random_start=False,
        clip=clip,
        targeted=targeted,
        mask=mask,
        batch_size=batch_size,
        precision=precision,
    )
