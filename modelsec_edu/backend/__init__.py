"""Gradients and compiled loops: the package's one backend-specific module.

Backpropagation gives two gradients of the same loss.  With respect to the
*weights* it trains a model; with respect to the *input* it attacks it.  This
module computes both on whichever Keras backend is active, and compiles hot
loops: ``tf.function`` on TensorFlow, ``jax.jit`` on JAX, eager on PyTorch.
Every other module speaks ``keras.ops`` and NumPy and calls in here.

The three building blocks:

* :func:`value_and_grad` -- differentiate a scalar function of an input tensor;
  usable inside compiled code (attacks loop over it).
* :func:`compiled` -- compile ``fn(logits, *args)`` for a model, once, and
  cache it on the model.  ``logits(x)`` runs the model in inference mode; on JAX
  the weights are passed in explicitly, so a model that is trained later is
  never served stale weights.
* :func:`train_step` -- one compiled weight update for any loss written in
  ``keras.ops`` (adversarial training puts the inner attack inside it).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import keras
import numpy as np

__all__ = [
    "backend",
    "compiled",
    "devices",
    "fast_dtype",
    "loops_in_graph",
    "input_gradient",
    "train_step",
    "value_and_grad",
    "weight_gradients",
]

# model -> {key: compiled function}.  Weak keys: a deleted model frees its traces.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def backend() -> str:
    """Name of the active Keras backend (``"tensorflow"``, ``"jax"`` or ``"torch"``)."""
    return keras.backend.backend()


def devices() -> list[dict[str, str]]:
    """List the devices the active backend can compute on, as ``{"type", "name"}`` dicts."""
    name = backend()
    found: list[dict[str, str]] = []
    if name == "tensorflow":
        import tensorflow as tf

        for d in tf.config.list_physical_devices():
            if d.device_type in ("CPU", "GPU", "TPU"):
                found.append({"type": d.device_type, "name": d.name})
    elif name == "jax":
        import jax

        for d in jax.devices():
            kind = "GPU" if d.platform in ("gpu", "cuda", "rocm") else d.platform.upper()
            found.append({"type": kind, "name": str(getattr(d, "device_kind", d))})
    elif name == "torch":
        import torch

        found.append({"type": "CPU", "name": "cpu"})
        for i in range(torch.cuda.device_count()):
            found.append({"type": "GPU", "name": torch.cuda.get_device_name(i)})
    else:
        found.append({"type": "CPU", "name": name})
    return found


def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model that outputs logits, got {type(model).__name__}")


# --------------------------------------------------------------------------- input gradients


def value_and_grad(f: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[Any, Any, Any]]:
    """Wrap ``f(x) -> (scalar, aux)`` into ``g(x) -> (scalar, aux, d scalar / d x)``.

    Works eagerly and inside :func:`compiled` functions on every backend.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        def g(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value, aux = f(x)
            return value, aux, tape.gradient(value, x)

        return g
    if name == "jax":
        import jax

        def g(x):
            (value, aux), grad = jax.value_and_grad(f, has_aux=True)(x)
            return value, aux, grad

        return g
    if name == "torch":
        import torch

        def g(x):
            x = x.detach().requires_grad_(True)
            with torch.enable_grad():
                value, aux = f(x)
                (grad,) = torch.autograd.grad(value, x)
            aux = aux.detach() if hasattr(aux, "detach") else aux
            return value.detach(), aux, grad.detach()

        return g
    raise NotImplementedError(f"backend {name!r} is not supported; use tensorflow, jax or torch")


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
    per model, so the second call of an attack costs no tracing.

    With ``compute_dtype="bfloat16"``, ``logits(x)`` runs the model's layers in
    bfloat16 (Keras' ``mixed_bfloat16`` policy: float32 weights and inputs,
    bfloat16 arithmetic, float32 logits out) on the model's *current* weights.
    Where :func:`fast_dtype` says so, that roughly halves the cost of a forward
    and backward pass; gradients lose precision (8 mantissa bits), which an
    attack that uses only their sign barely feels.
    ``logits_f32(x)`` always runs in float32, and is passed to ``make()``'s
    function as a keyword argument when that function accepts it.
    """
    _check_model(model)
    if compute_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16', got {compute_dtype!r}")
    per_model = _CACHE.setdefault(model, {})
    cache_key = (key, compute_dtype)
    if cache_key in per_model:
        return per_model[cache_key]
    fn = make()
    low = None
    if compute_dtype == "bfloat16":  # one twin per model, shared by every compiled function
        low = per_model.get(("twin", "bfloat16")) or _low_precision_twin(model)
        per_model[("twin", "bfloat16")] = low
    wants_f32 = "logits_f32" in inspect.signature(fn).parameters
    name = backend()

    # The compiled code reaches the model through a weak reference: the cache is
    # keyed weakly by the model, and a strong reference in its values would keep
    # every model alive for the whole session.
    ref = weakref.ref(model)

    def bind(fwd_f32, fwd_low):
        # a partial, not a lambda: TensorFlow counts retracings per code object, and
        # one shared lambda for every model and attack would trip its "retracing" warning
        extra = {"logits_f32": fwd_f32} if wants_f32 else {}
        return functools.partial(_apply, fn, fwd_low or fwd_f32, extra)

    if name == "jax":
        import jax

        def run(tv, ntv, *args):
            def logits_jax(x):
                out, _ = ref().stateless_call(tv, ntv, x, training=False)
                return out

            def logits_jax_low(x):
                out, _ = low.stateless_call(tv, ntv, x, training=False)
                return keras.ops.cast(out, "float32")

            return bind(logits_jax, logits_jax_low if low else None)(*args)

        jitted = jax.jit(run)

        def call(*args):
            m = ref()
            tv = [v.value for v in m.trainable_variables]
            ntv = [v.value for v in m.non_trainable_variables]
            return jitted(tv, ntv, *args)

    else:

        def logits(x):
            return ref()(x, training=False)

        def logits_low(x):
            m = ref()
            tv = [v.value for v in m.trainable_variables]
            ntv = [v.value for v in m.non_trainable_variables]
            out, _ = low.stateless_call(tv, ntv, x, training=False)
            return keras.ops.cast(out, "float32")

        call = bind(logits, logits_low if low else None)
        if name == "tensorflow":
            import tensorflow as tf

            call = tf.function(call, reduce_retracing=True)

    per_model[cache_key] = call
    return call


def loops_in_graph() -> bool:
    """Whether an attack's steps should run as one compiled loop (else: a Python loop over a compiled step).

    True on JAX, where a jitted loop is one dispatch and XLA optimises the
    body as a whole.  False on TensorFlow, whose ``while_loop`` bodies run
    slower than the same ops as a top-level graph on the CPU (about a third
    slower for the course's CNN in float32, ``bench/attacks_speed.py``); the
    Python loop costs one function call per step, negligible against a
    forward and backward pass.  False on PyTorch (eager anyway).
    """
    return backend() == "jax"


def _apply(fn, logits, extra, *args):
    return fn(logits, *args, **extra)


def _cpu_has_bf16_units() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return bool(set(line.split(":", 1)[1].split()) & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


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
    if backend() == "tensorflow" and _cpu_has_bf16_units():
        return "bfloat16"
    return "float32"


def _low_precision_twin(model: keras.Model) -> keras.Model:
    """A structural copy of ``model`` whose layers compute in bfloat16.

    It holds no weights of its own that matter: :func:`compiled` runs it with
    ``stateless_call`` on the original model's variables, so it always sees the
    current weights.  Models whose layers cannot be rebuilt from their config
    raise ``ValueError``.
    """

    def clone_layer(layer):
        config = layer.get_config()
        config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    try:
        twin = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except (NotImplementedError, TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"cannot build a bfloat16 twin of {model.name!r}: {exc}") from exc
    same = [tuple(a.shape) for a in twin.trainable_variables] == [
        tuple(b.shape) for b in model.trainable_variables
    ] and len(twin.non_trainable_variables) == len(model.non_trainable_variables)
    if not same:
        raise ValueError(f"the bfloat16 twin of {model.name!r} does not have the model's variables")
    return twin


def _sparse_ce(y, logits):
    return keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True)


def input_gradient(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    _check_model(model)
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (n, ...), got shape {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) to match x, got {y.shape}")

    def make():
        def fn(logits, xb, yb):
            def loss(xx):
                per = _sparse_ce(yb, logits(xx))
                return keras.ops.sum(per), per

            _, per, grad = value_and_grad(loss)(xb)
            return per, grad

        return fn

    call = compiled(model, ("input_gradient",), make)
    per, grad = call(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y.astype("int32")))
    return keras.ops.convert_to_numpy(per), keras.ops.convert_to_numpy(grad)


# --------------------------------------------------------------------------- weight gradients


def weight_gradients(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Gradient of the mean cross-entropy with respect to each trainable weight.

    This is the gradient training follows (and the bit-flip attack ranks bits
    by).  Returns NumPy arrays in the order of ``model.trainable_variables``.
    """
    _check_model(model)
    x = keras.ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    y = keras.ops.convert_to_tensor(np.asarray(y).astype("int32"))
    name = backend()
    variables = model.trainable_variables
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = keras.ops.mean(_sparse_ce(y, model(x, training=False)))
        grads = tape.gradient(loss, variables)
    elif name == "jax":
        import jax

        ntv = [v.value for v in model.non_trainable_variables]

        def loss_fn(tv):
            out, _ = model.stateless_call(tv, ntv, x, training=False)
            return keras.ops.mean(_sparse_ce(y, out))

        grads = jax.grad(loss_fn)([v.value for v in variables])
    elif name == "torch":
        import torch

        with torch.enable_grad():
            loss = keras.ops.mean(_sparse_ce(y, model(x, training=False)))
            grads = torch.autograd.grad(loss, [v.value for v in variables])
    else:
        raise NotImplementedError(f"backend {name!r} is not supported")
    return [keras.ops.convert_to_numpy(g) for g in grads]


# --------------------------------------------------------------------------- training


def train_step(
    model: keras.Model,
    loss_fn: Callable[[Callable[..., Any], Any, Any], Any],
    *,
    key: Hashable = "default",
) -> Callable[[Any, Any], Any]:
    """Compile one weight update ``step(x, y) -> loss`` for a custom loss.

    ``loss_fn(forward, x, y)`` returns a scalar loss written in ``keras.ops``;
    ``forward(x, training=True)`` runs the model.  The loss may itself run an
    attack (with :func:`value_and_grad`) on ``forward``: adversarial training
    does exactly that, so the inner maximisation and the weight update are one
    compiled step.  The model must be compiled with an optimizer.
    """
    _check_model(model)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("model has no optimizer: call model.compile(optimizer=...) first")
    per_model = _CACHE.setdefault(model, {})
    cache_key = ("train_step", key)
    if cache_key in per_model:
        return per_model[cache_key]
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    variables = model.trainable_variables
    ref = weakref.ref(model)  # as in compiled(): the cached step must not keep the model alive
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        def forward_tf(x, training=True):
            return ref()(x, training=training)

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(forward_tf, x, y)
            grads = tape.gradient(loss, variables)
            optimizer.apply(grads, variables)
            return loss

    elif name == "jax":
        import jax

        def pure(tv, ntv, ov, x, y):
            def objective(tv_):
                def forward_jax(xx, training=True):
                    out, _ = ref().stateless_call(tv_, ntv, xx, training=training)
                    return out

                return loss_fn(forward_jax, x, y)

            loss, grads = jax.value_and_grad(objective)(tv)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return loss, tv, ov

        jitted = jax.jit(pure)

        def step(x, y):
            tv = [v.value for v in variables]
            ntv = [v.value for v in ref().non_trainable_variables]
            ov = [v.value for v in optimizer.variables]
            loss, tv, ov = jitted(tv, ntv, ov, x, y)
            for var, value in zip(variables, tv):
                var.assign(value)
            for var, value in zip(optimizer.variables, ov):
                var.assign(value)
            return loss

    elif name == "torch":
        import torch

        def forward_torch(x, training=True):
            return ref()(x, training=training)

        def step(x, y):
            with torch.enable_grad():
                loss = loss_fn(forward_torch, x, y)
                grads = torch.autograd.grad(loss, [v.value for v in variables])
            optimizer.apply(list(grads), variables)
            return loss.detach()

    else:
        raise NotImplementedError(f"backend {name!r} is not supported")
    per_model[cache_key] = step
    return step
