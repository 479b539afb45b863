"""The TensorFlow implementation of :mod:`modelsec_edu.backend` (``GradientTape``, ``tf.function``).

Every function here has a twin of the same name and signature in
:mod:`.jax` and :mod:`.torch`; :mod:`modelsec_edu.backend` picks one module
once (Keras' own layout, ``keras/src/backend/tensorflow/``).  Per-example
gradients are a Jacobian of the per-example losses, vectorised by
``pfor`` (Agarwal & Ganichev 2019, arXiv:1903.04243).  Used in chapters 03-07.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from . import common

NAME = "tensorflow"
# A Python loop over one compiled step: while_loop bodies ran about a third slower
# on the CPU than the same ops as a top-level graph (bench/attacks_speed.py).
LOOPS_IN_GRAPH = False


def devices() -> list[dict[str, str]]:
    return [
        {"type": d.device_type, "name": d.name}
        for d in tf.config.list_physical_devices()
        if d.device_type in ("CPU", "GPU", "TPU")
    ]


def bf16_on_cpu() -> bool:
    # oneDNN uses the CPU's bfloat16 units where they exist.
    return common.cpu_has_bf16_units()


def value_and_grad(f: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
    def g(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = f(x)
        return value, aux, tape.gradient(value, x)

    return g


def compile_call(ref: weakref.ref, bind: Callable, low: keras.Model | None) -> Callable[..., Any]:
    logits, logits_low = common.eager_logits(ref, low)
    return tf.function(bind(logits, logits_low), reduce_retracing=True)


def weight_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(common.sparse_ce(y, model(x, training=False)))
    return tape.gradient(loss, variables)


def per_example_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    ref = weakref.ref(model)

    def build():
        @tf.function(reduce_retracing=True)
        def call(xb, yb):
            m = ref()
            with tf.GradientTape() as tape:
                per = common.sparse_ce(yb, m(xb, training=False))
            return tape.jacobian(per, m.trainable_variables, experimental_use_pfor=True)

        return call

    return common.cached(model, ("per_example_gradients",), build)(x, y)


def train_step(
    ref: weakref.ref,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: Callable[..., Any],
    per_example: Callable[..., Any] | None,
) -> Callable[..., Any]:
    variables = ref().trainable_variables

    def forward(x, training=True):
        return ref()(x, training=training)

    if per_example is None:

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(forward, x, y)
            optimizer.apply(tape.gradient(loss, variables), variables)
            return loss

        return step

    @tf.function(reduce_retracing=True)
    def step_per_example(x, y, aux=None):
        with tf.GradientTape() as tape:
            losses = loss_fn(forward, x, y)
        grads = tape.jacobian(losses, variables, experimental_use_pfor=True)
        optimizer.apply(list(per_example(grads, aux)), variables)
        return keras.ops.mean(losses)

    return step_per_example
