"""Extraction: copying a model through its prediction API, and noticing it (chapter 08).

A bank's credit scorer or fraud detector answers queries; those answers leak
the model itself (Tramer et al. 2016, USENIX Security,
https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer).

* :mod:`.api` -- the API as the attacker sees it: probabilities, rounded
  probabilities or labels only, with a per-account query log;
* :mod:`.solve` -- a logistic-regression scorer recovered exactly from d + 1
  probability queries: :func:`equation_solving`;
* :mod:`.retrain` -- a label-only copy trained on the API's answers
  (:func:`copycat`) and the :func:`agreement` between two models;
* :mod:`.pool` -- the attacker's queries: plausible applicants made from a few
  real ones (:func:`plausible_pool`);
* :mod:`.sweep` -- agreement and the monitor's suspicion against the query
  budget, one result for chapter 08's widget (:func:`budget_sweep`);
* :mod:`.bank` -- the chapter's split, scorer, copy-cat and fraud-detector
  recipes, shared by the notebook and ``bench/finance.py``;
* :mod:`.monitor` -- a PRADA-style query monitor (Juuti et al. 2019,
  https://arxiv.org/abs/1805.02628): flag accounts whose queries do not look
  like real customers'.

The stolen copy also serves as a surrogate for a transfer evasion attack
(chapter 08 uses :mod:`modelsec_edu.evasion.constrained` on it).
"""

from . import api, bank, monitor, pool, retrain, solve, sweep
from .api import OUTPUTS, PredictionAPI
from .monitor import MonitorResult, QueryMonitor, combine, min_distances
from .pool import plausible_pool
from .retrain import STRATEGIES, agreement, copycat, decide
from .solve import DESIGNS, equation_solving, log_odds
from .sweep import BudgetSweep, RoundingSweep, budget_sweep, rounding_sweep

__all__ = [
    "BudgetSweep",
    "DESIGNS",
    "OUTPUTS",
    "STRATEGIES",
    "MonitorResult",
    "PredictionAPI",
    "RoundingSweep",
    "QueryMonitor",
    "agreement",
    "api",
    "bank",
    "budget_sweep",
    "combine",
    "copycat",
    "decide",
    "equation_solving",
    "log_odds",
    "min_distances",
    "monitor",
    "plausible_pool",
    "pool",
    "retrain",
    "rounding_sweep",
    "solve",
    "sweep",
]
