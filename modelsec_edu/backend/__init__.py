"""Gradients and compiled loops: the package's only framework-specific code (rank 1).

Backpropagation gives two gradients of the same loss.  With respect to the
*weights* it trains a model; with respect to the *input* it attacks it.  This
package computes both on whichever Keras backend is active, and compiles hot
loops: ``tf.function`` on TensorFlow, ``jax.jit`` on JAX, eager on PyTorch.
Every other module speaks ``keras.ops`` and NumPy and calls in here.

The layout is Keras 3's own (``keras/src/backend/{tensorflow,jax,torch}/``):
one module per framework, :mod:`.tensorflow`, :mod:`.jax` and :mod:`.torch`,
with the same function names in each; this module picks **one** of them, once,
for the active Keras backend, and every public function below delegates to it.
:mod:`.common` holds what they share (the per-model cache, the bfloat16 twin).

* :func:`value_and_grad` -- differentiate a scalar function of an input tensor;
  usable inside compiled code (attacks loop over it; chapter 03).
* :func:`compiled` -- compile ``fn(logits, *args)`` for a model, once, and
  cache it on the model.
* :func:`input_gradient`, :func:`weight_gradients` and
  :func:`per_example_gradients` (DP-SGD's per-example clipping, chapter 07;
  Abadi et al. 2016, arXiv:1607.00133).
* :func:`train_step` -- one compiled weight update for any loss written in
  ``keras.ops`` (adversarial training puts the inner attack inside it; DP-SGD
  its clipping and noise).  Used in chapters 03-07.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import weakref
from collections.abc import Callable, Hashable
from types import ModuleType
from typing import Any

import keras
import numpy as np

from modelsec_edu import validation

from . import common

__all__ = [
    "backend",
    "compiled",
    "devices",
    "fast_dtype",
    "input_gradient",
    "loops_in_graph",
    "per_example_gradients",
    "train_step",
    "value_and_grad",
    "weight_gradients",
]

_SUPPORTED = ("tensorflow", "jax", "torch")


def backend() -> str:
    """Name of the active Keras backend (``"tensorflow"``, ``"jax"`` or ``"torch"``)."""
    return keras.backend.backend()


@functools.lru_cache(maxsize=1)
def _impl() -> ModuleType:
    """The implementation module of the active backend, imported once."""
    name = backend()
    if name not in _SUPPORTED:
        raise NotImplementedError(f"backend {name!r} is not supported; use one of {_SUPPORTED}")
    return importlib.import_module(f"{__name__}.{name}")


def devices() -> list[dict[str, str]]:
    """List the devices the active backend can compute on, as ``{"type", "name"}`` dicts."""
    return _impl().devices()


def loops_in_graph() -> bool:
    """Whether an attack's steps run as one compiled loop (else: a Python loop of compiled steps).

    True on JAX, where a jitted loop is one dispatch and XLA optimises the
    body as a whole.  False on TensorFlow, whose ``while_loop`` bodies run
    slower than the same ops as a top-level graph on the CPU (about a third
    slower for the course's CNN in float32, ``bench/attacks_speed.py``); the
    Python loop costs one function call per step, negligible against a
    forward and backward pass.  False on PyTorch (eager anyway).
    """
    return _impl().LOOPS_IN_GRAPH


@functools.lru_cache(maxsize=1)
def fast_dtype() -> str:
    """The compute dtype that runs a model fastest here: ``"bfloat16"`` or ``"float32"``.

    bfloat16 on a GPU, and on TensorFlow when the CPU has bfloat16 units
    (AVX512_BF16 or AMX), which oneDNN uses: there a forward and backward pass
    costs about half.  float32 elsewhere, including JAX on a CPU, whose
    compiler emulates bfloat16 and gains nothing (measured in
    ``bench/attacks_speed.py``).
    """
    if any(d["type"] in ("GPU", "TPU") for d in devices()):
        return "bfloat16"
    return "bfloat16" if _impl().bf16_on_cpu() else "float32"


# --------------------------------------------------------------------------- input gradients


def value_and_grad(f: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
    """Wrap ``f(x) -> (scalar, aux)`` into ``g(x) -> (scalar, aux, d scalar / d x)``.

    Works eagerly and inside :func:`compiled` functions on every backend.
    """
    _check_callable(f, "f")
    return _impl().value_and_grad(f)


def compiled(
    model: keras.Model,
    key: Hashable,
    make: Callable[[], Callable[..., Any]],
    *,
    compute_dtype: str = "float32",
) -> Callable[..., Any]:
    """Return a compiled ``call(*args)`` running ``make()(logits, *args)`` on ``model``.

    ``key`` names the function and every *static* choice baked into it (number
    of steps, norm, ...); everything that may change between calls must be a
    tensor argument, so one trace serves them all.  Compiled functions are cached
    per model, so the second call of an attack costs no tracing.  ``logits(x)``
    runs the model in inference mode on its *current* weights (on JAX they are
    passed in explicitly, so a model trained later is never served stale ones).

    With ``compute_dtype="bfloat16"``, ``logits(x)`` runs the model's layers in
    bfloat16 (Keras' ``mixed_bfloat16`` policy: float32 weights and inputs,
    bfloat16 arithmetic, float32 logits out).  Where :func:`fast_dtype` says
    so, that roughly halves the cost of a forward and backward pass; gradients
    lose precision (8 mantissa bits), which an attack that uses only their
    sign barely feels.  ``logits_f32(x)`` always runs in float32, and is passed
    to ``make()``'s function as a keyword argument when that function accepts it.
    """
    common.check_model(model)
    _check_callable(make, "make")
    compute_dtype = validation.check_choice(compute_dtype, "compute_dtype", ("float32", "bfloat16"))
    store = common.per_model(model)
    cache_key = (key, compute_dtype)
    if cache_key not in store:
        fn = make()
        low = common.twin(model) if compute_dtype == "bfloat16" else None
        bind = common.binder(fn, "logits_f32" in inspect.signature(fn).parameters)
        # The compiled code reaches the model through a weak reference: the cache is
        # keyed weakly by the model, and a strong reference in its values would keep
        # every model alive for the whole session.
        store[cache_key] = _impl().compile_call(weakref.ref(model), bind, low)
    return store[cache_key]


def input_gradient(
    model: keras.Model, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example cross-entropy and its gradient with respect to the input.

    Args:
        model: a Keras model that outputs logits.
        x: inputs, float array of shape ``(n, ...)``.
        y: integer labels of shape ``(n,)``.

    Returns:
        ``(loss, grad)`` as NumPy arrays of shapes ``(n,)`` and ``x.shape``.
        Summing the per-example losses (rather than averaging) keeps each
        example's gradient independent of the batch size.
    """
    common.check_model(model)
    x, y = _xy(model, x, y)

    def make():
        def fn(logits, xb, yb):
            def loss(xx):
                per = common.sparse_ce(yb, logits(xx))
                return keras.ops.sum(per), per

            _, per, grad = value_and_grad(loss)(xb)
            return per, grad

        return fn

    per, grad = compiled(model, ("input_gradient",), make)(*_tensors(x, y))
    return keras.ops.convert_to_numpy(per), keras.ops.convert_to_numpy(grad)


def _xy(model: keras.Model, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """A non-empty float32 batch and one label per input, in range for ``model``'s classes."""
    x = validation.check_array(x, "x", min_ndim=2)
    return x, validation.check_labels(
        y, "y", n=len(x), num_classes=validation.check_classifier(model)
    )


def _check_callable(fn: Any, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    return keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y.astype("int32"))


# --------------------------------------------------------------------------- weight gradients


def weight_gradients(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Gradient of the mean cross-entropy with respect to each trainable weight.

    This is the gradient training follows (and the bit-flip attack ranks bits
    by).  Returns NumPy arrays in the order of ``model.trainable_variables``.
    """
    common.check_model(model)
    grads = _impl().weight_gradients(model, *_tensors(*_xy(model, x, y)))
    return [keras.ops.convert_to_numpy(g) for g in grads]


def per_example_gradients(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Each example's own gradient of its cross-entropy, for every trainable weight.

    Returns one array per entry of ``model.trainable_variables``, of shape
    ``(n, *weight.shape)``: row ``i`` is the gradient of example ``i``'s sparse
    cross-entropy (from logits, model in inference mode) alone, what DP-SGD
    clips before it averages (Abadi et al. 2016, arXiv:1607.00133).  The mean
    over rows is :func:`weight_gradients`.  Computed in one compiled call:
    ``jax.vmap(jax.grad(...))`` on JAX; on TensorFlow outer products of each
    Dense layer's input and output gradient for a Sequential of Dense layers
    (one backward pass), ``tf.vectorized_map`` otherwise; one backward pass per
    example on PyTorch.
    """
    common.check_model(model)
    grads = _impl().per_example_gradients(model, *_tensors(*_xy(model, x, y)))
    return [keras.ops.convert_to_numpy(g) for g in grads]


# --------------------------------------------------------------------------- training


def train_step(
    model: keras.Model,
    loss_fn: Callable[[Callable[..., Any], Any, Any], Any],
    *,
    key: Hashable = "default",
    per_example: Callable[[list[Any], Any], list[Any]] | None = None,
) -> Callable[..., Any]:
    """Compile one weight update ``step(inputs, y) -> loss`` for a custom loss.

    ``loss_fn(forward, inputs, y)`` returns a scalar loss written in
    ``keras.ops``; ``forward(x, training=True)`` runs the model.  The loss may
    itself run an attack (with :func:`value_and_grad`) on ``forward``:
    adversarial training does exactly that, so the inner maximisation and the
    weight update are one compiled step.  The model must be compiled with an
    optimizer.  On JAX the step threads the model's non-trainable state
    (BatchNorm statistics, the dropout seed) through the jitted function and
    writes it back, so such layers train as on TensorFlow; a training-mode
    ``forward`` must therefore not sit inside a compiled loop (inference-mode
    calls, as attacks make, may).

    ``key`` names the loss and every static choice in it.  The step is cached
    per model and per key, and tied to the model's *current* optimizer (held
    by a weak reference): after ``model.compile(...)`` the next call builds a
    fresh step, so callers never put ``id(optimizer)`` into a key.

    **Per-example gradients (DP-SGD).**  With ``per_example`` given, the step
    is ``step(inputs, y, aux) -> mean loss`` and:

    * ``loss_fn(forward, inputs, y)`` returns the **per-example** losses, shape ``(b,)``;
    * the backend computes each example's gradient inside the compiled step
      (``jax.vmap`` of ``jax.grad`` on JAX, outer products for a Dense chain or
      ``tf.vectorized_map`` on TensorFlow, one backward pass per example on PyTorch): a list,
      per trainable weight, of shape ``(b, *weight.shape)``;
    * it calls ``per_example(grads, aux) -> list`` of aggregated gradients
      (one per weight, of the weight's shape), where ``aux`` holds extra
      tensors passed to the step, such as pre-drawn Gaussian noise;
    * and applies the optimizer to the result.

    DP-SGD's clipping and noise are then pure ``keras.ops`` in ``per_example``::

        def per_example(grads, noise):  # batch: the (static) batch size
            flat = [keras.ops.reshape(g, (batch, -1)) for g in grads]
            norms = keras.ops.sqrt(sum(keras.ops.sum(f**2, axis=1) for f in flat))
            scale = keras.ops.minimum(1.0, clip / (norms + 1e-12))  # each example's norm <= clip
            return [
                (keras.ops.tensordot(scale, g, 1) + sigma * clip * z) / batch
                for g, z in zip(grads, noise)
            ]

    Layers that mix the examples of a batch in training mode (BatchNorm) break
    the per-example view (on JAX each example runs as a batch of one), so
    DP-SGD models use none; on JAX the dropout seed advances once per step.
    """
    common.check_model(model)
    _check_callable(loss_fn, "loss_fn")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("model has no optimizer: call model.compile(optimizer=...) first")
    if per_example is not None and not callable(per_example):
        raise TypeError(f"per_example must be a callable or None, got {type(per_example).__name__}")
    store = common.per_model(model)
    cache_key = ("train_step", key, per_example is not None)
    hit = store.get(cache_key)
    if hit is not None and hit[0]() is optimizer:
        return hit[1]
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    # A weak reference to the model, as in compiled(): the cached step must not keep it alive.
    step = _impl().train_step(weakref.ref(model), optimizer, loss_fn, per_example)
    store[cache_key] = (weakref.ref(optimizer), step)
    return step
