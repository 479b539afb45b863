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
:func:`masking_checklist` runs the checks of Carlini et al. (2019, "On
Evaluating Adversarial Robustness", https://arxiv.org/abs/1902.06705) that
flag an attack which failed rather than a model which resisted.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import (
    check_array,
    check_choice,
    check_clip,
    check_float,
    check_int,
    check_labels,
    check_model,
)

from . import gradient
from ._checks import NORMS, num_classes
from .evaluation import madry_pgd, robust_accuracy
from .gradient import fgsm
from .score_based import square_attack

__all__ = ["Check", "Checklist", "Quantize", "bpda", "masking_checklist", "quantized"]

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


# --------------------------------------------------------------------------- the checklist


@dataclass(frozen=True)
class Check:
    """One item of the gradient-masking checklist."""

    name: str
    passed: bool
    detail: str


class Checklist(list):
    """The checks, shown as a table; ``passed`` is True when every check passed."""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self)

    def __str__(self) -> str:
        width = max(len(c.name) for c in self)
        lines = [f"{'ok ' if c.passed else 'FAIL'} {c.name:<{width}}  {c.detail}" for c in self]
        verdict = (
            "no sign of gradient masking"
            if self.passed
            else "signs of gradient masking: distrust these numbers"
        )
        return "\n".join([*lines, f"=> {verdict}"])

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'&#x2705;' if c.passed else '&#x274C;'}</td><td>{html.escape(c.name)}</td>"
            f"<td>{html.escape(c.detail)}</td></tr>"
            for c in self
        )
        verdict = (
            "no sign of gradient masking"
            if self.passed
            else "<b>signs of gradient masking</b>: distrust these numbers"
        )
        head = "<tr><th></th><th>check</th><th>measured</th></tr>"
        return f"<table>{head}{rows}</table><p>{verdict}</p>"


def masking_checklist(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    eps: float,
    norm: str = "linf",
    steps: int = 20,
    queries: int = 500,
    seed: int = 0,
    tolerance: float = 0.02,
    clip: tuple[float, float] = (0.0, 1.0),
) -> Checklist:
    """Run the checks of Carlini et al. (2019), section 5, that flag gradient masking.

    Each check compares accuracies (robust accuracy, :func:`robust_accuracy`)
    and passes within ``tolerance``:

    1. iterative attacks beat single-step ones: PGD <= FGSM;
    2. white-box attacks beat black-box ones: PGD <= Square Attack (L-inf only);
    3. unbounded attacks reach 0%: PGD with eps as wide as ``clip`` <= tolerance;
    4. more steps do not help the model: PGD with 4x the steps <= PGD;
    5. a larger budget never helps the model: PGD at 2 eps <= PGD at eps;
    6. the attack beats random noise of the same size.

    A failed check is a symptom, not a proof: it says the attack, not the
    model, may be what stopped.

    Threat model: the evaluator's white-box and black-box attacker at ``eps``.
    """
    check_model(model)
    norm = check_choice(norm, "norm", NORMS)
    eps = check_float(eps, "eps", min=0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    queries = check_int(queries, "queries", min=1)
    seed = check_int(seed, "seed", min=0)
    tolerance = check_float(tolerance, "tolerance", min=0, max=1)
    lo, hi = check_clip(clip)
    lo, hi = float(np.min(lo)), float(np.max(hi))
    x = check_array(x, "x", min_ndim=2)
    y = check_labels(y, "y", n=len(x), num_classes=num_classes(model))

    def acc(x_adv):
        return robust_accuracy(model, x, x_adv, y)

    def pgd(e, s):
        return acc(madry_pgd(model, x, y, e, s, norm=norm, seed=seed, clip=clip))

    clean = acc(x)
    base = pgd(eps, steps)
    if norm == "linf":
        single = acc(fgsm(model, x, y, eps=eps, clip=clip))
    else:
        single = acc(
            gradient.pgd(
                model,
                x,
                y,
                eps=eps,
                step_size=eps,
                steps=1,
                norm=norm,
                random_start=False,
                clip=clip,
            )
        )
    wide = (hi - lo) * (1.0 if norm == "linf" else float(np.sqrt(np.prod(x.shape[1:]))))
    unbounded = pgd(wide, steps)
    more = pgd(eps, 4 * steps)
    double = pgd(2 * eps, steps)
    rng = np.random.default_rng(seed)
    if norm == "linf":
        noise = rng.choice(np.array([-eps, eps], "float32"), size=x.shape)
    else:
        noise = rng.standard_normal(x.shape).astype("float32")
        noise *= eps / np.linalg.norm(noise.reshape(len(x), -1), axis=1).reshape(
            (-1,) + (1,) * (x.ndim - 1)
        )
    random = acc(np.clip(x + noise, lo, hi))

    def pct(v):
        return f"{v:.1%}"

    checks = [
        Check(
            "iterative beats single-step",
            base <= single + tolerance,
            f"PGD-{steps} {pct(base)} vs FGSM {pct(single)}",
        ),
    ]
    if norm == "linf":
        square = acc(square_attack(model, x, y, eps=eps, queries=queries, seed=seed, clip=clip))
        checks.append(
            Check(
                "white-box beats black-box",
                base <= square + tolerance,
                f"PGD-{steps} {pct(base)} vs Square-{queries} {pct(square)}",
            )
        )
    checks += [
        Check(
            "unbounded eps reaches 0%",
            unbounded <= tolerance,
            f"PGD at eps={wide:g}: {pct(unbounded)}",
        ),
        Check(
            "more steps do not help the model",
            more <= base + tolerance,
            f"PGD-{4 * steps} {pct(more)} vs PGD-{steps} {pct(base)}",
        ),
        Check(
            "a larger eps does not help the model",
            double <= base + tolerance,
            f"eps={2 * eps:g}: {pct(double)} vs eps={eps:g}: {pct(base)}",
        ),
        Check(
            "the attack beats random noise",
            base + tolerance < random or random <= tolerance,
            f"PGD {pct(base)} vs random noise {pct(random)} (clean {pct(clean)})",
        ),
    ]
    return Checklist(checks)
