"""Measuring robustness honestly: robust accuracy, success rates, norms, curves, a checklist.

A robustness number is only as good as the attack behind it.  Carlini et al.
(2019, "On Evaluating Adversarial Robustness") list the signs that an attack
failed rather than the model resisting; :func:`masking_checklist` runs the
ones that cost a few attacks and reports each as passed or failed.  The other
helpers give the standard figures: :func:`robust_accuracy`,
:func:`attack_success_rate`, :func:`norm_stats`, and :func:`security_curve`,
the accuracy-against-eps curve of several attacks, which the chapter plots
with :func:`modelsec_edu.plots.accuracy_curves`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    "Check",
    "Checklist",
    "accuracy_from_norms",
    "attack_success_rate",
    "masking_checklist",
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
    size = perturbation_norms(x, x_adv, norms=(norm,))[norm]
    clean = models.predict_labels(model, x) == y
    fooled = models.predict_labels(model, x_adv) != y
    return np.array([np.mean(clean & ~(fooled & (size <= e + 1e-6))) for e in eps])


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
        return gradient.pgd(
            model,
            x,
            y,
            eps=eps,
            step_size=2.5 * eps / steps,
            steps=steps,
            norm=norm,
            seed=seed,
            clip=clip,
        )

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
        return f"<table><tr><th></th><th>check</th><th>measured</th></tr>{rows}</table><p>{verdict}</p>"


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
        return acc(
            gradient.pgd(
                model, x, y, eps=e, step_size=2.5 * e / s, steps=s, norm=norm, seed=seed, clip=clip
            )
        )

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
