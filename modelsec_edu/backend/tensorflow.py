"""The TensorFlow implementation of :mod:`modelsec_edu.backend` (``GradientTape``, ``tf.function``).

Every function here has a twin of the same name and signature in
:mod:`.jax` and :mod:`.torch`; :mod:`modelsec_edu.backend` picks one module
once (Keras' own layout, ``keras/src/backend/tensorflow/``).  Per-example
gradients take one of two paths.  A Sequential model of Dense layers (what
DP-SGD trains on fixed features, chapter 07) gets them from one backward pass:
each Dense layer's kernel gradient is the outer product of its input and the
gradient at its output (:func:`.common.dense_chain`).  Any other model maps a
single example's gradient over the batch with ``tf.vectorized_map`` (``pfor``,
Agarwal & Ganichev 2019, arXiv:1903.04243): a ``tape.jacobian`` of the
per-example losses does the same job about six times slower, because it
back-propagates the whole batch once per example.  Used in chapters 03-07.
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
    return tf.function(bind(logits, logits_low), reduce_retracing=True, autograph=False)


def weight_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(common.sparse_ce(y, model(x, training=False)))
    return tape.gradient(loss, variables)


def _dense_forward(layers, records):
    """``forward(x, training)`` through a Dense chain, keeping each Dense layer's input, output."""

    def forward(x, training=True):
        h = x
        for layer in layers:
            if isinstance(layer, keras.layers.Dense):
                z = tf.matmul(h, layer.kernel)
                if layer.use_bias:
                    z = z + layer.bias
                records.append((h, z))
                h = layer.activation(z) if layer.activation is not None else z
            else:
                h = layer(h, training=training)
        return h

    return forward


def _per_example_grads(ref, loss_fn, x, y, training):
    """``(per-example losses (b,), per-example gradients)`` of ``loss_fn(forward, x, y)``."""
    model = ref()
    variables = model.trainable_variables
    layers = common.dense_chain(model)
    if layers is not None:
        records = []
        with tf.GradientTape() as tape:
            losses = loss_fn(_dense_forward(layers, records), x, y)
            total = tf.reduce_sum(losses)
        if len(records) == sum(isinstance(la, keras.layers.Dense) for la in layers):
            # one forward pass seen: the examples are independent, so row i of d(sum)/dz is
            # d loss_i / dz_i
            outs = tape.gradient(total, [z for _, z in records])
            dense = [la for la in layers if isinstance(la, keras.layers.Dense)]
            grads = []
            for (a, _), d, layer in zip(records, outs, dense, strict=True):
                grads.append(tf.einsum("bi,bj->bij", a, d))
                if layer.use_bias:
                    grads.append(d)
            return losses, grads

    def forward(xx, training=training):
        return ref()(xx, training=training)

    def one(example):
        xi, yi = example
        with tf.GradientTape() as tape:
            loss = loss_fn(forward, xi[None], yi[None])[0]
        return loss, tape.gradient(loss, variables)

    losses, grads = tf.vectorized_map(one, (x, y))
    return losses, list(grads)


def per_example_gradients(model: keras.Model, x: Any, y: Any) -> list[Any]:
    ref = weakref.ref(model)

    def loss(forward, xb, yb):
        return common.sparse_ce(yb, forward(xb, training=False))

    def build():
        @tf.function(reduce_retracing=True, autograph=False)
        def call(xb, yb):
            return _per_example_grads(ref, loss, xb, yb, training=False)[1]

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

        @tf.function(reduce_retracing=True, autograph=False)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(forward, x, y)
            optimizer.apply(tape.gradient(loss, variables), variables)
            return loss

        return step

    @tf.function(reduce_retracing=True, autograph=False)
    def step_per_example(x, y, aux=None):
        losses, grads = _per_example_grads(ref, loss_fn, x, y, training=True)
        optimizer.apply(list(per_example(grads, aux)), variables)
        return keras.ops.mean(losses)

    return step_per_example
