"""8-bit weights: the quantised model that bit flips act on (chapter 05).

Symmetric per-tensor int8 quantisation (Jacob et al. 2018,
https://arxiv.org/abs/1712.05877).  This module sits below :mod:`.bitflip`,
which flips bits in the int8 tensors it makes.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int, check_model

from .weights import clone

__all__ = ["QMAX", "dequantize", "int8_bits", "quantize", "quantize_array"]

QMAX = 127


def quantize_array(w: Any, *, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Symmetric 8-bit quantisation of one tensor: ``(q int8, scale)`` with ``w ~ q * scale``.

    ``scale`` defaults to ``max|w| / 127`` so the largest weight maps to +-127.
    """
    w = check_array(w, "w", dtype="float64", min_len=0)  # NaN or inf: ValueError
    if scale is None:
        top = float(np.abs(w).max()) if w.size else 0.0
        scale = top / QMAX if top > 0 else 1.0
    scale = check_float(scale, "scale", min=0, min_open=True)
    q = np.clip(np.rint(w / scale), -QMAX - 1, QMAX).astype(np.int8)
    return q, float(scale)


def dequantize(q: np.ndarray, scale: float) -> np.ndarray:
    """The float32 weights an int8 tensor stands for."""
    q = check_array(q, "q", dtype=None, min_len=0)
    if q.dtype != np.int8:
        raise TypeError(f"q must be an int8 array (from quantize_array), got dtype {q.dtype}")
    scale = check_float(scale, "scale", min=0, min_open=True)
    return (q.astype("float64") * scale).astype("float32")


def int8_bits(value: int) -> str:
    """An int8 value's eight bits (two's complement), high bit first (``-1 -> '11111111'``)."""
    value = check_int(value, "value", min=-128, max=127)
    return format(value & 0xFF, "08b")


def quantize(model: keras.Model) -> keras.Model:
    """8-bit weights, dequantised for inference: the model that bit flips attack.

    Every trainable weight tensor ``w`` is stored as int8 ``q`` with one
    symmetric scale ``s = max|w| / 127``: ``q = round(w / s)`` and the model
    computes with ``q * s`` (Jacob et al. 2018 use the same per-tensor scheme).
    Each weight moves by at most half a step ``s / 2``.  Quantising twice
    changes nothing.
    """
    check_model(model)
    new = clone(model)
    for var in new.trainable_variables:
        q, scale = quantize_array(keras.ops.convert_to_numpy(var))
        var.assign(dequantize(q, scale))
    return new
