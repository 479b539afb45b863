"""What a query budget buys the attacker, and when the bank notices: one experiment, one result.

For each budget in a list, :func:`budget_sweep` trains a label-only copy
(:func:`.retrain.copycat`) with that many queries and measures its agreement
with the victim on real applicants.  It also runs the bank's monitor
(:class:`.monitor.QueryMonitor`) over the copy-cat's query stream, so the
chapter's widget can show both at once: the copy improving with every query,
and the alarm that rings long before it is good.  :func:`rounding_sweep` does the same for
the bank's other lever, rounding the scores it returns, against equation-solving
(:func:`.solve.equation_solving`).  The widget only displays the
:class:`BudgetSweep` and :class:`RoundingSweep` computed here.  Used in chapter 08.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int

from .api import PredictionAPI
from .monitor import QueryMonitor
from .retrain import agreement, copycat

__all__ = ["BudgetSweep", "RoundingSweep", "budget_sweep", "rounding_sweep"]


@dataclass(frozen=True)
class BudgetSweep:
    """Agreement per budget, and the monitor's suspicion along the largest budget's query stream.

    ``alarm_at`` is the index of the query at which the monitor first alarmed
    (``-1``: never); ``copy`` is the copy trained with the largest budget and
    ``stream`` the queries it sent, in order.
    """

    budgets: np.ndarray
    agreement: np.ndarray
    suspicion: np.ndarray
    threshold: float
    alarm_at: int
    copy: Any = None
    stream: Any = None

    def at(self, budget: int) -> tuple[float, float]:
        """``(agreement, suspicion)`` at the largest measured budget not above ``budget``."""
        i = max(int(np.searchsorted(self.budgets, budget, side="right")) - 1, 0)
        q = min(int(self.budgets[i]), len(self.suspicion)) - 1
        return float(self.agreement[i]), float(self.suspicion[q])


def budget_sweep(
    victim: Any,
    pool: Any,
    x_eval: Any,
    *,
    budgets: Sequence[int],
    model_fn: Callable[[], keras.Model],
    monitor: QueryMonitor,
    seed: int = 0,
    **copycat_options: Any,
) -> BudgetSweep:
    """Train one label-only copy per budget and watch the largest one's queries with ``monitor``."""
    pool = check_array(pool, "pool", ndim=2)
    x_eval = check_array(x_eval, "x_eval", ndim=2)
    budgets = np.array(sorted(check_int(b, "budget", min=2, max=len(pool)) for b in budgets))
    if not isinstance(monitor, QueryMonitor):
        raise TypeError(f"monitor must be a QueryMonitor, got {type(monitor).__name__}")
    from tqdm.auto import tqdm

    agree, api, copy = [], None, None
    for b in tqdm(budgets, desc="one copy per query budget"):
        api = PredictionAPI(victim, output="label")
        copy = copycat(api, pool, queries=int(b), model_fn=model_fn, seed=seed, **copycat_options)
        agree.append(agreement(copy, victim, x_eval))
    stream = api.queries()  # the largest budget's queries, in the order they were sent
    result = monitor.run([stream])
    return BudgetSweep(
        budgets=budgets,
        agreement=np.array(agree),
        suspicion=result.curves[0],
        threshold=monitor.threshold,
        alarm_at=int(result.alarm_at[0]),
        copy=copy,
        stream=stream,
    )


@dataclass(frozen=True)
class RoundingSweep:
    """Equation-solving against the API's rounding: the weight error and the stolen model's
    agreement with the victim, per number of decimals kept (``None``: full probabilities)."""

    decimals: tuple[int | None, ...]
    error: np.ndarray
    agreement: np.ndarray

    def at(self, decimals: int | None) -> tuple[float, float]:
        """``(error, agreement)`` at ``decimals``."""
        if decimals not in self.decimals:
            raise ValueError(f"decimals must be one of {self.decimals}, got {decimals!r}")
        i = self.decimals.index(decimals)
        return float(self.error[i]), float(self.agreement[i])


def rounding_sweep(
    predict_proba: Callable[[np.ndarray], Any],
    weights: Any,
    bias: float,
    x_eval: Any,
    *,
    decimals: Sequence[int | None] = (None, 6, 4, 3, 2, 1),
) -> RoundingSweep:
    """Run :func:`.solve.equation_solving` through an API rounding to each of ``decimals``.

    ``weights`` and ``bias`` are the victim's true parameters (the error is the
    largest absolute difference over both); ``x_eval`` the rows on which the
    stolen model's decisions are compared with the victim's.
    """
    from .solve import equation_solving

    if not callable(predict_proba):
        raise TypeError(f"predict_proba must be a callable, got {type(predict_proba).__name__}")
    bias = check_float(bias, "bias")
    weights = check_array(weights, "weights", dtype="float64")
    true = np.append(weights.ravel(), bias)
    x_eval = check_array(x_eval, "x_eval", ndim=2, dtype="float64")
    decimals = tuple(None if d is None else check_int(d, "decimals", min=0) for d in decimals)
    errors, agree = [], []
    for dec in decimals:
        api = (
            PredictionAPI(predict_proba)
            if dec is None
            else PredictionAPI(predict_proba, output="rounded", decimals=dec)
        )
        w, b = equation_solving(api, len(true) - 1)
        errors.append(float(np.abs(np.append(w, b) - true).max()))
        want = np.asarray(predict_proba(x_eval)).argmax(axis=1)
        agree.append(float(np.mean((x_eval @ w + b > 0).astype(int) == want)))
    return RoundingSweep(decimals, np.array(errors), np.array(agree))
