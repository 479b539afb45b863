"""Measuring robustness honestly: robust accuracy, success rates, norms, curves, a checklist.

A robustness number is only as good as the attack behind it (the checklist of
Carlini et al. 2019 that flags a failed attack is
:func:`modelsec_edu.evasion.masking.masking_checklist`).  These helpers give
the standard figures: :func:`robust_accuracy`, :func:`attack_success_rate`,
:func:`norm_stats`, and :func:`security_curve`, the accuracy-against-eps curve
of several attacks, which the chapter plots with
:func:`modelsec_edu.plots.accuracy_curves`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.validation import (
    check_array,
    check_bool,
    check_choice,
    check_clip,
    check_float,
    check_int,
    check_labels,
    check_model,
    check_seed,
)

from . import gradient
from ._checks import NORMS, num_classes
from .gradient import fgsm
from .norms import perturbation_norms
from .score_based import square_attack

__all__ = [
    "accuracy_from_norms",
    "attack_success_rate",
    "norm_stats",
    "robust_accuracy",
    "security_curve",
    "standard_attacks",
]

Attack = Callable[[keras.Model, np.ndarray, np.ndarray, float], np.ndarray]


def _pair(model: Any, x: Any, x_adv: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = check_array(x, "x", min_ndim=2)
    x_adv = check_array(x_adv, "x_adv", min_ndim=2)
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv must have the same shape, got {x.shape} and {x_adv.shape}")
    return x, x_adv, check_labels(y, "y", n=len(x), num_classes=num_classes(model))


def _sequence(values: Any, name: str) -> list[Any]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one value, got none")
    return list(np.asarray(values).ravel()) if isinstance(values, np.ndarray) else list(values)


def robust_accuracy(model: keras.Model, x: Any, x_adv: Any, y: Any) -> float:
    """Share of inputs the model classifies correctly both clean and attacked.

    An input the model already gets wrong never counts as robust, whatever
    the attack returned for it.
    """
    check_model(model)
    x, x_adv, y = _pair(model, x, x_adv, y)
    clean = models.predict_labels(model, x) == y
    adv = models.predict_labels(model, x_adv) == y
    return float(np.mean(clean & adv))


def attack_success_rate(
    model: keras.Model, x: Any, x_adv: Any, y: Any, *, targeted: bool = False, among: Any = None
) -> float:
    """Share of the inputs an attack had to change whose answer it changed as wanted.

    Untargeted: among inputs classified correctly when clean, the share
    misclassified after the attack.  Targeted (``y`` holds the targets): among
    inputs not already classified as their target, the share that now are.
    ``among`` (a boolean array, one per input) replaces that default choice of
    inputs to count; :func:`modelsec_edu.poisoning.backdoor_success_rate`
    counts every input outside the target class, the backdoor convention.
    Returns NaN when there is no input to count.
    """
    check_model(model)
    targeted = check_bool(targeted, "targeted")
    x, x_adv, y = _pair(model, x, x_adv, y)
    adv = models.predict_labels(model, x_adv)
    if among is not None:
        todo = np.asarray(among)
        if todo.dtype != bool:
            raise TypeError(
                f"among must be a boolean array (one entry per input), got dtype {todo.dtype}"
            )
        if todo.shape != (len(x),):
            raise ValueError(f"among must have shape ({len(x)},), got {todo.shape}")
    else:
        clean = models.predict_labels(model, x)
        todo = (clean != y) if targeted else (clean == y)
    hit = (adv == y) if targeted else (adv != y)
    return float(np.mean(hit[todo])) if todo.any() else float("nan")


def norm_stats(
    x: Any, x_adv: Any, *, norms: Sequence[str] = ("linf", "l2"), where: Any = None
) -> dict[str, dict[str, float]]:
    """Mean, median, min and max of the perturbation's norms, per norm.

    ``where`` (a boolean array) restricts the statistics to some inputs, for
    example the ones an attack fooled; with none selected every value is NaN.
    """
    sizes = perturbation_norms(x, x_adv, norms=norms)
    n = len(next(iter(sizes.values())))
    keep = np.ones(n, bool) if where is None else np.asarray(where)
    if keep.dtype != bool:
        raise TypeError(
            f"where must be a boolean array (one entry per input), got dtype {keep.dtype}"
        )
    if keep.shape != (n,):
        raise ValueError(f"where must have shape ({n},), got {keep.shape}")
    out = {}
    for name, v in sizes.items():
        v = v[keep]
        stat = (np.mean, np.median, np.min, np.max)
        out[name] = {
            k: (float(f(v)) if v.size else float("nan"))
            for k, f in zip(("mean", "median", "min", "max"), stat)
        }
    return out


def accuracy_from_norms(
    model: keras.Model, x: Any, x_adv: Any, y: Any, eps: Sequence[float], *, norm: str = "l2"
) -> np.ndarray:
    """Accuracy against eps from one run of a minimum-norm attack (e.g. DeepFool).

    An input counts as robust at ``eps`` when it is classified correctly and
    the attack needed more than ``eps`` to fool it (or failed).  Because the
    attack only *bounds* the smallest adversarial change from above, this
    curve bounds the true robust accuracy from above too.
    """
    check_model(model)
    x, x_adv, y = _pair(model, x, x_adv, y)
    eps = [check_float(e, "eps", min=0) for e in _sequence(eps, "eps")]
    norm = check_choice(norm, "norm", NORMS)
    size = perturbation_norms(x, x_adv, norms=(norm,))[norm]
    clean = models.predict_labels(model, x) == y
    fooled = models.predict_labels(model, x_adv) != y
    return np.array([np.mean(clean & ~(fooled & (size <= e + 1e-6))) for e in eps])


def madry_pgd(model, x, y, eps, steps, *, norm, seed, clip):
    """PGD from a random start with Madry's step, :func:`~modelsec_edu.models.default_step_size`.

    The one PGD of :func:`standard_attacks` and of ``masking.masking_checklist``.
    """
    step_size = models.default_step_size(eps, steps)
    return gradient.pgd(
        model, x, y, eps=eps, step_size=step_size, steps=steps, norm=norm, seed=seed, clip=clip
    )


def standard_attacks(
    *,
    norm: str = "linf",
    steps: int = 20,
    queries: int = 500,
    seed: int = 0,
    clip: Any = (0.0, 1.0),
) -> dict[str, Attack]:
    """The chapter's attacks as ``name -> attack(model, x, y, eps)``, for :func:`security_curve`.

    FGSM (L-inf) or its L2 twin, PGD with ``steps`` steps, and for L-inf the
    score-based Square Attack with ``queries`` queries.
    """
    norm = check_choice(norm, "norm", NORMS)
    steps = check_int(steps, "steps", min=1)
    queries = check_int(queries, "queries", min=1)
    seed = check_seed(seed)
    if clip is not None:
        check_clip(clip)

    def one_step(model, x, y, eps):
        if norm == "linf":
            return fgsm(model, x, y, eps=eps, clip=clip)
        return gradient.pgd(
            model, x, y, eps=eps, step_size=eps, steps=1, norm=norm, random_start=False, clip=clip
        )

    def pgd(model, x, y, eps):
        return madry_pgd(model, x, y, eps, steps, norm=norm, seed=seed, clip=clip)

    out: dict[str, Attack] = {
        "FGSM" if norm == "linf" else "FGM (L2)": one_step,
        f"PGD-{steps}": pgd,
    }
    if norm == "linf":

        def square(model, x, y, eps):
            return square_attack(model, x, y, eps=eps, queries=queries, seed=seed, clip=clip)

        out[f"Square-{queries}"] = square
    return out


def security_curve(
    model: keras.Model,
    x: Any,
    y: Any,
    eps: Sequence[float],
    attack_fns: Mapping[str, Attack],
    *,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Robust accuracy at each eps for each attack: ``{name: accuracies}``.

    Plot it with ``plots.accuracy_curves(eps, curves)``.  At eps = 0 no attack
    runs (it is the clean accuracy).
    """
    check_model(model)
    if not isinstance(attack_fns, Mapping) or not all(callable(f) for f in attack_fns.values()):
        raise TypeError(
            f"attack_fns must map names to attack functions, got {type(attack_fns).__name__}"
        )
    if not attack_fns:
        raise ValueError("attack_fns must name at least one attack, got none")
    eps = [check_float(e, "eps", min=0) for e in _sequence(eps, "eps")]
    progress = check_bool(progress, "progress")
    x = check_array(x, "x", min_ndim=2)
    y = check_labels(y, "y", n=len(x), num_classes=num_classes(model))
    from tqdm.auto import tqdm

    bar = tqdm(total=len(eps) * len(attack_fns), desc="security curve", disable=not progress)
    curves = {}
    for name, fn in attack_fns.items():
        accs = []
        for e in eps:
            x_adv = x if e == 0 else fn(model, x, y, e)
            accs.append(robust_accuracy(model, x, x_adv, y))
            bar.update(1)
        curves[name] = np.array(accs)
    bar.close()
    return curves
