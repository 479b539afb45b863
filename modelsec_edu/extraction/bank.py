"""Chapter 08's bank and its adversaries: who holds which data, and the models they train.

One place for the split and the recipes that the chapter, its bench
(``bench/finance.py``) and its widget share, so their figures describe the
same bank.

**The credit scorer.**  The bank trains a small MLP (:data:`SCORER`: two
layers of 16, 60 full-batch Adam steps: early stopped, so it does not learn
its training rows by heart) on 700 of German credit's 1,000 applicants.  Of
the other 300, a competitor holds **100 applicants of its own**
(``x_own``; Tramer et al. 2016 and Papernot et al. 2017 give the attacker such
a small seed set) and the remaining 200 are the **evaluation** applicants
(``x_eval``), which no one trains on.

**The copy-cat** (Tramer et al. 2016,
https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/tramer)
queries plausible applicants made from its 100 (:func:`.pool.plausible_pool`)
and trains a wider MLP (:data:`STUDENT`) on the labels, spending half the
budget at random and half near its own decision boundary (``"adaptive"``).

**The card-fraud detector** is trained on the first 60 days of the synthetic
simulator (:func:`modelsec_edu.data.simulate_transactions`) and tested on the
last 30, as the handbook of Le Borgne et al. does.  Used in chapter 08.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from modelsec_edu import data, privacy
from modelsec_edu.data.tabular import TabularSpec
from modelsec_edu.validation import check_float, check_int, check_seed

__all__ = [
    "DETECTOR",
    "SCORER",
    "STUDENT",
    "CreditBank",
    "FraudBank",
    "credit_bank",
    "fraud_bank",
    "student",
    "threshold_at_fpr",
]

SCORER = {"width": 16, "depth": 2, "steps": 60, "learning_rate": 3e-3}
STUDENT = {"width": 64, "depth": 2, "steps": 1000, "learning_rate": 3e-3}
DETECTOR = {"width": 32, "depth": 2, "steps": 400, "learning_rate": 3e-3, "batch_size": 2048}


@dataclass(frozen=True)
class CreditBank:
    """The credit data as the chapter splits it, and the bank's scorer trained on ``x_train``."""

    spec: TabularSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_own: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    scorer: keras.Model

    def monitor_streams(
        self, *, streams: int = 200, length: int = 200, seed: int = 0
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """The monitor's data, from three disjoint sets of applicants: ``(reference, calib, held)``.

        The bank's 700 training applicants are split in two: half are the ``reference`` rows of
        the ``"reference"`` statistic, and the other half make the ``calib`` streams (its past
        customers, ``length`` of them per stream) on which it sets its thresholds.  The ``held``
        streams, on which false alarms are reported, come from the 300 applicants it never saw
        (``x_own`` and ``x_eval``): no applicant of a held-out stream served for calibration.
        """
        streams = check_int(streams, "streams", min=1)
        length = check_int(length, "length", min=2, max=len(self.x_train) // 2)
        rng = np.random.default_rng(check_seed(seed))
        perm = rng.permutation(len(self.x_train))
        half = len(perm) // 2
        reference, past = self.x_train[perm[:half]], self.x_train[perm[half:]]
        new = np.concatenate([self.x_own, self.x_eval])
        calib = [past[rng.choice(len(past), length, replace=False)] for _ in range(streams)]
        held = [new[rng.choice(len(new), length, replace=False)] for _ in range(streams)]
        return reference, calib, held


def credit_bank(*, seed: int = 0) -> CreditBank:
    """Split German credit (700 bank / 100 competitor / 200 evaluation) and train the scorer."""
    seed = check_int(seed, "seed", min=0)
    d = data.load_german_credit()
    (xtr, ytr), (xte, yte) = data.stratified_split(d.x, d.y, seed=seed)
    perm = np.random.default_rng(seed + 5).permutation(len(xte))
    own, ev = perm[:100], perm[100:]
    train = privacy.trainer(
        width=SCORER["width"], depth=SCORER["depth"], steps=SCORER["steps"],
        learning_rate=SCORER["learning_rate"],
    )  # fmt: skip
    return CreditBank(d.spec, xtr, ytr, xte[own], xte[ev], yte[ev], train(xtr, ytr, seed))


def student(n_features: int, *, seed: int = 1):
    """``model_fn`` for :func:`.retrain.copycat`: a fresh copy-cat network of :data:`STUDENT`."""
    n_features = check_int(n_features, "n_features", min=1)
    seed = check_seed(seed)
    return lambda: privacy.tabular_mlp(
        n_features, 2, width=STUDENT["width"], depth=STUDENT["depth"], seed=seed
    )


def threshold_at_fpr(scores_genuine: Any, fpr: float) -> float:
    """The lowest score threshold that flags at most ``fpr`` of genuine transactions.

    A transaction is flagged when its fraud score is ``>=`` the threshold.
    """
    s = np.sort(np.asarray(scores_genuine, dtype="float64").ravel())
    if s.size == 0:
        raise ValueError("scores_genuine must hold at least one score, got none")
    fpr = check_float(fpr, "fpr", min=0, max=1)
    k = int(np.floor(fpr * len(s)))  # genuine scores allowed at or above the threshold
    return float(np.nextafter(s[-1], np.inf)) if k == 0 else float(s[len(s) - k])


@dataclass(frozen=True)
class FraudBank:
    """The simulated transactions, split in time, and the detector trained on the first part.

    ``scenario_test`` gives each test transaction's fraud scenario (0 genuine; 1 a large amount,
    2 a compromised terminal, 3 a compromised card:
    :func:`modelsec_edu.data.simulate_transactions`).
    """

    spec: TabularSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    detector: keras.Model
    scenario_test: Any = None


def fraud_bank(
    *, customers: int = 1000, days: int = 90, test_days: int = 30, steps: int | None = None,
    seed: int = 0,
) -> FraudBank:  # fmt: skip
    """Simulate, train the detector on all but the last ``test_days`` days, keep those as test."""
    days = check_int(days, "days", min=2)
    test_days = check_int(test_days, "test_days", min=1, max=days - 1)
    sim = data.simulate_transactions(customers=customers, days=days, seed=seed)
    first = sim.day < days - test_days
    train = privacy.trainer(
        width=DETECTOR["width"], depth=DETECTOR["depth"],
        steps=DETECTOR["steps"] if steps is None else check_int(steps, "steps", min=1),
        learning_rate=DETECTOR["learning_rate"], batch_size=DETECTOR["batch_size"],
    )  # fmt: skip
    det = train(sim.x[first], sim.y[first], seed)
    return FraudBank(
        sim.spec, sim.x[first], sim.y[first], sim.x[~first], sim.y[~first], det,
        scenario_test=sim.scenario[~first],
    )  # fmt: skip
