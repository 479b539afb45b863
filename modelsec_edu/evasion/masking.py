"""Gradient masking: a deliberately broken "defence" and the attack that sees through it.

Chapter 03's trap.  Rounding every pixel to a few grey levels before the
network barely changes what the network computes, yet its gradient is zero
almost everywhere: FGSM and PGD, which follow the gradient, stall, and the
model *looks* robust.  It is not.  An attacker who needs no gradient (the
score-based :func:`modelsec_edu.evasion.square_attack`) or who replaces the
rounding's gradient by the identity on the backward pass (BPDA, Athalye,
Carlini & Wagner 2018, "Obfuscated Gradients Give a False Sense of
Security") fools it about as easily as the undefended model.

Never use :func:`quantized` as a defence: it exists to be broken.
"""

from __future__ import annotations

from typing import Any

import keras

from modelsec_edu.validation import check_choice, check_float, check_int, check_model

__all__ = ["Quantize", "bpda", "quantized"]

GRADIENTS = ("zero", "identity")


@keras.saving.register_keras_serializable(package="modelsec_edu")
class Quantize(keras.layers.Layer):
    """Round inputs to ``levels`` evenly spaced values in ``[low, high]``.

    The forward pass is the same for both ``gradient`` settings; the backward
    pass is what autodiff makes of rounding (``"zero"``: the gradient is
    masked) or the identity (``"identity"``: BPDA's straight-through estimate,
    ``x + stop_gradient(round(x) - x)``).
    """

    def __init__(
        self,
        levels: int = 8,
        *,
        low: float = 0.0,
        high: float = 1.0,
        gradient: str = "zero",
        **kwargs,
    ):
        super().__init__(**kwargs)
        levels = check_int(levels, "levels", min=2)
        low, high = check_float(low, "low"), check_float(high, "high")
        if not high > low:
            raise ValueError(f"low must be < high, got low={low!r}, high={high!r}")
        gradient = check_choice(gradient, "gradient", GRADIENTS)
        self.levels, self.low, self.high, self.gradient = levels, low, high, gradient

    def call(self, x):
        scale = (self.levels - 1) / (self.high - self.low)
        q = (
            keras.ops.round((keras.ops.clip(x, self.low, self.high) - self.low) * scale) / scale
            + self.low
        )
        if self.gradient == "identity":
            return x + keras.ops.stop_gradient(q - x)
        # rounding's true derivative, 0 almost everywhere, written so every backend returns zeros
        return x * 0.0 + keras.ops.stop_gradient(q)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "levels": self.levels,
            "low": self.low,
            "high": self.high,
            "gradient": self.gradient,
        }


def quantized(
    model: keras.Model, *, levels: int = 8, low: float = 0.0, high: float = 1.0
) -> keras.Model:
    """``model`` behind an input-quantisation "defence" (a new model sharing its weights).

    Threat model it pretends to meet: a white-box L-inf attacker.  It does
    not: it only hides the gradient (see the module docstring).
    """
    check_model(model)
    inputs = keras.Input(tuple(model.inputs[0].shape[1:]))
    outputs = model(Quantize(levels, low=low, high=high, name="quantize")(inputs))
    return keras.Model(inputs, outputs, name=f"{model.name}_quantized")


def bpda(model: keras.Model) -> keras.Model:
    """The same model with every :class:`Quantize` layer's gradient replaced by the identity.

    Backward Pass Differentiable Approximation (Athalye et al. 2018): forward
    exactly as ``model`` (same predictions, shared weights), backward as if the
    rounding were not there, so gradient attacks work again.
    """
    check_model(model)
    found = []

    def swap(layer):
        if isinstance(layer, Quantize):
            found.append(layer)
            return Quantize.from_config({**layer.get_config(), "gradient": "identity"})
        return layer  # the same layer object: the weights are shared, not copied

    twin = keras.models.clone_model(model, clone_function=swap)
    if not found:
        raise ValueError(
            f"model {model.name!r} has no Quantize layer: nothing for BPDA to approximate"
        )
    return twin
