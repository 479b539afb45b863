"""How robust a trained model is: clean accuracy, robust accuracy under FGSM and PGD (chapter 06).

Threat model: a white-box L-inf attacker with budget ``eps`` inside the valid
input box.  The course's bar is PGD-40 with step 0.01 from a random start
(Madry et al. 2018, arXiv:1706.06083); FGSM (Goodfellow et al. 2015,
arXiv:1412.6572) alone overstates robustness when gradients are masked.  The
attacked figures count an input only when the model is right both clean and
attacked (:func:`modelsec_edu.evasion.robust_accuracy`, the one definition).
"""

from __future__ import annotations

import inspect
from typing import Any

import keras
import numpy as np

from modelsec_edu import models

from ._checks import prepare
from .evaluation import robust_accuracy
from .gradient import fgsm, pgd

__all__ = ["FLOAT32", "robustness"]


# Robust accuracy is measured in float32 (the attack at its strongest) where pgd offers a choice.
FLOAT32 = {"precision": "float32"} if "precision" in inspect.signature(pgd).parameters else {}


def robustness(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float = 0.3,
    steps: int = 40,
    step_size: float = 0.01,
    restarts: int = 1,
    clip: tuple[Any, Any] = (0.0, 1.0),
    seed: int = 0,
) -> dict[str, float]:
    """Clean accuracy and robust accuracy under FGSM and PGD at budget ``eps`` (L-inf).

    Threat model: white-box L-inf evasion inside ``clip``.  The defaults are
    the course's bar: PGD-40, step 0.01, random start (Madry et al. 2018).
    Returns ``{"clean", "fgsm", "pgd"}`` as fractions in [0, 1]; the attacked
    figures are :func:`modelsec_edu.evasion.robust_accuracy` (an input counts
    only when the model is right both clean and attacked).
    """
    x, y, lo, hi, _ = prepare(model, x, y, clip, None)
    x_fgsm = fgsm(model, x, y, eps=eps, clip=(lo, hi), **FLOAT32)
    x_pgd = pgd(
        model,
        x,
        y,
        eps=eps,
        step_size=step_size,
        steps=steps,
        restarts=restarts,
        clip=(lo, hi),
        seed=seed,
        **FLOAT32,
    )
    return {
        "clean": models.accuracy(model, x, y),
        "fgsm": robust_accuracy(model, x, x_fgsm, y),
        "pgd": robust_accuracy(model, x, x_pgd, y),
    }
