"""The JAX implementation of :mod:`modelsec_edu.backend` (``jax.grad``, ``jax.jit``, ``jax.vmap``).

Every function here has a twin of the same name and signature in
:mod:`.tensorflow` and :mod:`.torch`.  JAX is functional: weights, the
non-trainable state (BatchNorm statistics, the dropout seed) and the
optimizer's slots go into a jitted function as arguments and come back as
results, which are then written into the Keras variables -- the pattern of
Keras' own ``keras/src/backend/jax/trainer.py``.  Per-example gradients are
``jax.vmap(jax.grad(...))`` (as in Opacus' functorch mode and jax-privacy;
Abadi et al. 2016, arXiv:1607.00133, need them for DP-SGD).  Used in chapters 03-07.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import jax
import keras

from . import common

NAME = "jax"
# A jitted loop is one dispatch, and XLA optimises the body as a whole.
LOOPS_IN_GRAPH = True


def devices() -> list[dict[str, str]]:
    found = []
    for d in jax.devices():
        kind = "GPU" if d.platform in ("gpu", "cuda", "rocm") else d.platform.upper()
        found.append({"type": kind, "name": str(getattr(d, "device_kind", d))})
    return found


def bf16_on_cpu() -> bool:
    return False  # XLA on a CPU emulates bfloat16 and gains nothing (bench/attacks_speed.py)


def value_and_grad(f: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
    def g(x):
        (value, aux), grad = jax.value_and_grad(f, has_aux=True)(x)
        return value, aux, grad

    return g


def _state(model: keras.Model) -> tuple[list, list]:
    return [v.value for v in model.trainable_variables], [
        v.value for v in model.non_trainable_variables
    ]


def compile_call(ref: weakref.ref, bind: Callable, low: keras.Model | None) -> Callable[..., Any]:
    # The weights are arguments of the jitted function: a model trained later is never
    # served weights frozen at trace time.
    def run(tv, ntv, *args):
        def logits_jax(x):
            out, _ = ref().stateless_call(tv, ntv, x, training=False)
            return out

        def logits_jax_low(x):
            out, _ = low.stateless_call(tv, ntv, x, training=False)
            return keras.ops.cast(out, "float32")

        return bind(logits_jax, logits_jax_low if low is not None else None)(*args)

    jitted = jax.jit(run)

    def call(*args):
        return jitted(*_state(ref()), *args)

    return call


def weight_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    tv, ntv = _state(model)

    def loss_fn(tv_):
        out, _ = model.stateless_call(tv_, ntv, x, training=False)
        return keras.ops.mean(common.sparse_ce(y, out))

    return jax.grad(loss_fn)(tv)


def per_example_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    ref = weakref.ref(model)

    def build():
        def single(tv, ntv, xi, yi):
            out, _ = ref().stateless_call(tv, ntv, xi[None], training=False)
            return common.sparse_ce(yi[None], out)[0]

        batched = jax.jit(jax.vmap(jax.grad(single), in_axes=(None, None, 0, 0)))

        def call(xb, yb):
            return batched(*_state(ref()), xb, yb)

        return call

    return common.cached(model, ("per_example_gradients",), build)(x, y)


def _forward(ref: weakref.ref, tv: list, state: list) -> Callable[..., Any]:
    """``forward(x, training)`` on weights ``tv``; training calls update ``state[0]``.

    Calls in inference mode (an attack's inner loop) leave the state alone, so
    they may sit inside a compiled loop; training-mode calls must not.
    """

    def forward(x, training=True):
        out, new = ref().stateless_call(tv, state[0], x, training=training)
        if training:
            state[0] = new
        return out

    return forward


def train_step(
    ref: weakref.ref,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: Callable[..., Any],
    per_example: Callable[..., Any] | None,
) -> Callable[..., Any]:
    def batch_objective(tv, ntv, x, y):
        state = [ntv]
        loss = loss_fn(_forward(ref, tv, state), x, y)
        return loss, state[0]

    def example_objective(tv, ntv, xi, yi):
        state = [ntv]
        one = jax.tree.map(lambda a: a[None], (xi, yi))
        loss = loss_fn(_forward(ref, tv, state), *one)
        return keras.ops.reshape(loss, ()), state[0]

    def pure(tv, ntv, ov, x, y, aux):
        if per_example is None:
            (loss, ntv), grads = jax.value_and_grad(batch_objective, has_aux=True)(tv, ntv, x, y)
        else:
            grad_one = jax.value_and_grad(example_objective, has_aux=True)
            (losses, ntvs), per = jax.vmap(grad_one, in_axes=(None, None, 0, 0))(tv, ntv, x, y)
            ntv = jax.tree.map(lambda a: a[0], ntvs)  # the dropout seed moves on once per step
            grads, loss = list(per_example(per, aux)), keras.ops.mean(losses)
        tv, ov = optimizer.stateless_apply(ov, grads, tv)
        return loss, tv, ntv, ov

    jitted = jax.jit(pure)

    def step(x, y, aux=None):
        model = ref()
        tv, ntv = _state(model)
        ov = [v.value for v in optimizer.variables]
        loss, tv, ntv, ov = jitted(tv, ntv, ov, x, y, aux)
        for var, value in zip(model.trainable_variables, tv, strict=True):
            var.assign(value)
        for var, value in zip(model.non_trainable_variables, ntv, strict=True):
            var.assign(value)
        for var, value in zip(optimizer.variables, ov, strict=True):
            var.assign(value)
        return loss

    return step
