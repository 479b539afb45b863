"""What every backend shares: the per-model cache of compiled code and the bfloat16 twin.

Framework-neutral (``keras.ops`` and the standard library only), so the three
backend modules (:mod:`.tensorflow`, :mod:`.jax`, :mod:`.torch`) stay small
and hold only what differs between frameworks.  Used in chapters 03-07 through
:mod:`modelsec_edu.backend`.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import keras

from modelsec_edu import validation

# model -> {key: compiled function}.  Weak keys: a deleted model frees its traces.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_model(model: Any) -> keras.Model:
    """``model`` if it is a Keras model (``TypeError`` otherwise)."""
    return validation.check_model(model)


def per_model(model: keras.Model) -> dict[Hashable, Any]:
    """The cache of compiled functions that belong to ``model`` (freed with it)."""
    return _CACHE.setdefault(model, {})


def cached(model: keras.Model, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()`` once per ``(model, key)``; later calls return the same object."""
    store = per_model(model)
    if key not in store:
        store[key] = build()
    return store[key]


def sparse_ce(y: Any, logits: Any) -> Any:
    """Per-example cross-entropy from logits (shape ``(n,)``)."""
    return keras.ops.sparse_categorical_crossentropy(y, logits, from_logits=True)


def apply(fn: Callable[..., Any], logits: Callable[..., Any], extra: dict, *args: Any) -> Any:
    """``fn(logits, *args, **extra)``, at module level: its partials trace once per model."""
    return fn(logits, *args, **extra)


def binder(fn: Callable[..., Any], wants_f32: bool) -> Callable[..., Any]:
    """``bind(fwd_f32, fwd_low)``: the partial :func:`apply` call a backend compiles."""

    def bind(fwd_f32, fwd_low):
        # a partial, not a lambda: TensorFlow counts retracings per code object, and
        # one shared lambda for every model and attack would trip its "retracing" warning
        extra = {"logits_f32": fwd_f32} if wants_f32 else {}
        return functools.partial(apply, fn, fwd_low or fwd_f32, extra)

    return bind


def eager_logits(ref: weakref.ref, low: keras.Model | None) -> tuple[Callable, Callable | None]:
    """``(logits, logits_low)`` that read the model's current weights (TensorFlow and torch)."""

    def logits(x):
        return ref()(x, training=False)

    def logits_low(x):
        m = ref()
        tv = [v.value for v in m.trainable_variables]
        ntv = [v.value for v in m.non_trainable_variables]
        out, _ = low.stateless_call(tv, ntv, x, training=False)
        return keras.ops.cast(out, "float32")

    return logits, (logits_low if low is not None else None)


def cpu_has_bf16_units() -> bool:
    """Whether this CPU has bfloat16 units (AVX512_BF16 or AMX), read from ``/proc/cpuinfo``."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return bool(set(line.split(":", 1)[1].split()) & {"avx512_bf16", "amx_bf16"})
    except OSError:
        return False
    return False


def low_precision_twin(model: keras.Model) -> keras.Model:
    """A structural copy of ``model`` whose layers compute in bfloat16.

    It holds no weights of its own that matter: :func:`modelsec_edu.backend.compiled`
    runs it with ``stateless_call`` on the original model's variables, so it
    always sees the current weights.  Models whose layers cannot be rebuilt
    from their config raise ``ValueError``.
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


def twin(model: keras.Model) -> keras.Model:
    """The model's one bfloat16 twin, shared by every compiled function."""
    return cached(model, ("twin", "bfloat16"), lambda: low_precision_twin(model))


def dense_chain(model: keras.Model) -> list | None:
    """The layers of a Sequential model of float32 2-D Dense layers and weight-free layers, or None.

    Such a model's per-example gradients need no Jacobian: a Dense layer's
    kernel gradient for example ``i`` is the outer product of its input
    ``a_i`` and the gradient ``d_i`` of the loss at its output, and its bias
    gradient is ``d_i`` (Goodfellow 2015, "Efficient per-example gradient
    computations", https://arxiv.org/abs/1510.01799).  Everything else returns
    None and takes the general path.
    """
    if not isinstance(model, keras.Sequential):
        return None
    layers, covered = list(model.layers), []
    for layer in layers:
        if isinstance(layer, keras.layers.Dense):
            if (
                getattr(layer, "lora_enabled", False)
                or getattr(layer, "quantization_mode", None)
                or layer.compute_dtype != "float32"
                or len(layer.input.shape) != 2
            ):
                return None
            covered += [layer.kernel] + ([layer.bias] if layer.use_bias else [])
        elif layer.weights:
            return None
    if [id(v) for v in covered] != [id(v) for v in model.trainable_variables]:
        return None  # a frozen Dense, or weights the chain does not see
    return layers
