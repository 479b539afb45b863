"""How robust a trained model is: clean accuracy, robust accuracy under FGSM and PGD (chapter 06).

Threat model: a white-box L-inf attacker with budget ``eps`` inside the valid
input box.  The course's bar is PGD-40 with step 0.01 from a random start
(Madry et al. 2018, arXiv:1706.06083); FGSM (Goodfellow et al. 2015,
arXiv:1412.6572) alone overstates robustness when gradients are masked.  The
attacked figures count an input only when the model is right both clean and
attacked (:func:`modelsec_edu.evasion.robust_accuracy`, the one definition).
:func:`evaluate_models` scores several models the same way, with the per-input worst
case over APGD-CE, APGD-T and Square as the headline (in the spirit of
AutoAttack, Croce & Hein 2020, https://arxiv.org/abs/2003.01690) and the
gradient-masking checklist of Carlini et al. 2019 beside it.
"""

from __future__ import annotations

import html
import inspect
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from modelsec_edu import models
from modelsec_edu.validation import check_array, check_int

from ._checks import prepare
from .evaluation import robust_accuracy
from .gradient import fgsm, pgd
from .masking import Checklist, masking_checklist
from .worst_case import WorstCase, worst_case

__all__ = ["FLOAT32", "RobustRow", "RobustTable", "evaluate_models", "robustness"]


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


@dataclass(frozen=True)
class RobustRow:
    """One model's evaluation: clean, FGSM, PGD and the worst case, and the masking checklist."""

    name: str
    clean: float
    fgsm: float
    pgd: float
    worst_case: float
    report: WorstCase = field(repr=False)
    checklist: Checklist = field(repr=False)

    @property
    def masking_passed(self) -> bool:
        return self.checklist.passed


class RobustTable(list):
    """:func:`evaluate_models`'s rows; shown as a table whose headline column is the worst case."""

    def __str__(self) -> str:
        head = f"{'model':<34}{'clean':>8}{'FGSM':>8}{'PGD':>8}{'worst case':>12}  masking checks"
        rows = [
            f"{r.name:<34}{r.clean:>8.1%}{r.fgsm:>8.1%}{r.pgd:>8.1%}{r.worst_case:>12.1%}  "
            + ("all passed" if r.masking_passed else "FAILED: " + ", ".join(
                c.name for c in r.checklist if not c.passed))
            for r in self
        ]  # fmt: skip
        return "\n".join([head, *rows])

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{r.clean:.1%}</td><td>{r.fgsm:.1%}</td>"
            f"<td>{r.pgd:.1%}</td><td><b>{r.worst_case:.1%}</b></td>"
            f"<td>{'&#x2705; all passed' if r.masking_passed else '&#x274C; failed'}</td></tr>"
            for r in self
        )
        head = "".join(
            f"<th>{h}</th>" for h in ("model", "clean", "FGSM", "PGD", "worst case", "masking")
        )
        return f"<table><tr>{head}</tr>{cells}</table>"


def evaluate_models(
    named: dict[str, keras.Model],
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float = 0.3,
    steps: int = 40,
    step_size: float = 0.01,
    worst_case_args: dict[str, Any] | None = None,
    checklist_args: dict[str, Any] | None = None,
    n_checklist: int | None = None,
    seed: int = 0,
) -> RobustTable:
    """Evaluate every model the same way: :func:`robustness`, :func:`.worst_case.worst_case`
    (APGD-CE, APGD-T, Square; the headline) and :func:`.masking.masking_checklist`.

    Threat model: white-box and score-based L-inf attackers with budget ``eps``.
    ``worst_case_args`` and ``checklist_args`` go to those functions (steps,
    targets, queries); the checklist runs on the first ``n_checklist`` inputs
    (default: all).  Returns a :class:`RobustTable`, one :class:`RobustRow` per model.
    """
    if not isinstance(named, dict) or not named:
        raise TypeError("named must be a non-empty dict {name: keras.Model}")
    x = check_array(x, "x")
    n = len(x) if n_checklist is None else check_int(n_checklist, "n_checklist", min=1)
    rows = RobustTable()
    for name, model in named.items():
        r = robustness(model, x, y, eps=eps, steps=steps, step_size=step_size, seed=seed)
        report = worst_case(model, x, y, eps=eps, seed=seed, **(worst_case_args or {}))
        checklist = masking_checklist(
            model, x[:n], y[:n], eps=eps, seed=seed, **(checklist_args or {})
        )
        rows.append(
            RobustRow(name, r["clean"], r["fgsm"], r["pgd"], report.worst_case, report, checklist)
        )
    return rows
