"""Synthetic card transactions with fraud: a small seeded simulator and its detector's features.

No card-fraud data set ships offline, so this module makes one.  The design
follows chapter 3 of Le Borgne et al., *Reproducible Machine Learning for
Credit Card Fraud Detection - Practical Handbook* (Universite Libre de
Bruxelles, 2022, https://fraud-detection-handbook.github.io/fraud-detection-handbook/),
written here from its description, not its code:

* customers and terminals are points in a 100 x 100 square; a customer uses
  the terminals within ``radius`` of home;
* each customer has a mean amount and a number of transactions per day; each
  day brings a Poisson number of transactions at random times;
* three fraud scenarios: (1) any amount above 220 is fraud; (2) every day
  terminals are compromised for 28 days, all their transactions are fraud
  (two a day per 10,000 terminals, as in the handbook); (3) every day cards
  are compromised for 14 days (three a day per 5,000 customers), and a third
  of their transactions become fraud at 5 times the amount;
* features from history, as a detector would compute them: the amount, night
  and weekend flags, the customer's number and mean amount of transactions over
  the past 1, 7 and 30 days, and each terminal's number of transactions and
  share of (known) fraud over 1, 7 and 30 days, ending ``delay`` days ago
  (fraud is known only after a week).

Fraud is under 1% of the transactions.  Everything is **synthetic**.  Threat
model (chapter 08): the fraudster controls the amount and the time of a
transaction, never the card's or the terminal's history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelsec_edu.validation import check_float, check_int, check_seed

from .tabular import Feature, TabularSpec

__all__ = ["FRAUD_FEATURES", "FraudData", "fraud_spec", "simulate_transactions"]

DAY = 86400.0
WINDOWS = (1, 7, 30)
FRAUD_FEATURES = (
    ["amount", "is_night", "is_weekend"]
    + [f"customer_{k}_{w}d" for w in WINDOWS for k in ("count", "mean_amount")]
    + [f"terminal_{k}_{w}d" for w in WINDOWS for k in ("count", "risk")]
)


@dataclass(frozen=True)
class FraudData:
    """Transactions in time order: the raw columns, the encoded features and the labels.

    ``x`` (float32, in [0, 1] after :func:`fraud_spec`'s scaling), ``y`` (1 =
    fraud), ``day`` of each transaction, ``scenario`` (0 genuine, 1-3 the
    fraud scenario), ``amount``, ``customer``, ``terminal``.
    """

    x: np.ndarray
    y: np.ndarray
    day: np.ndarray
    scenario: np.ndarray
    amount: np.ndarray
    customer: np.ndarray
    terminal: np.ndarray
    spec: TabularSpec


def fraud_spec(max_amount: float = 1000.0, max_count: float = 150.0) -> TabularSpec:
    """The descriptor: the amount and the night flag are the fraudster's; history is not."""
    max_amount = check_float(max_amount, "max_amount", min=0.0, min_open=True)
    max_count = check_float(max_count, "max_count", min=0.0, min_open=True)
    feats = [
        Feature("amount", "continuous", (0,), lo=0.0, hi=max_amount, mutable=True, cost=1.0),
        Feature("is_night", "integer", (1,), lo=0, hi=1, mutable=True, cost=1.0),
        Feature("is_weekend", "integer", (2,), lo=0, hi=1, mutable=False),
    ]
    for name in FRAUD_FEATURES[3:]:
        if "count" in name:
            hi = max_count * (int(name.rsplit("_", 1)[1][:-1]) / 30.0) + 10
        else:
            hi = max_amount if "amount" in name else 1.0
        feats.append(Feature(name, "continuous", (len(feats),), lo=0.0, hi=hi, mutable=False))
    return TabularSpec(
        "card transactions (synthetic)", tuple(feats), ("genuine", "fraud"), synthetic=True
    )


def _window_stats(group, t, values, w_start, w_end):
    """Per row: count and sum of ``values`` of its group in ``[t - w_start, t - w_end)``."""
    order = np.lexsort((t, group))
    g, tt, v = group[order], t[order], values[order]
    key = g * 1e9 + tt  # groups far apart on one axis: one searchsorted for all
    csum = np.r_[0.0, np.cumsum(v)]
    lo = np.searchsorted(key, key - w_start, side="left")
    hi = np.searchsorted(key, key - w_end, side="left")
    count, total = np.empty(len(t)), np.empty(len(t))
    count[order], total[order] = hi - lo, csum[hi] - csum[lo]
    return count, total


def simulate_transactions(
    *,
    customers: int = 1000,
    terminals: int = 300,
    days: int = 90,
    radius: float = 5.0,
    delay: int = 7,
    seed: int | None = 0,
) -> FraudData:
    """Simulate ``days`` of transactions (about 2 per customer per day) and their features."""
    radius = check_float(radius, "radius", min=0.0, min_open=True)
    customers = check_int(customers, "customers", min=1)
    terminals = check_int(terminals, "terminals", min=1)
    days = check_int(days, "days", min=1)
    delay = check_int(delay, "delay", min=0)
    rng = np.random.default_rng(check_seed(seed))
    home = rng.uniform(0, 100, (customers, 2))
    term_xy = rng.uniform(0, 100, (terminals, 2))
    mean_amt = rng.uniform(5, 100, customers)
    rate = rng.uniform(0, 4, customers)
    near = [np.flatnonzero(((term_xy - h) ** 2).sum(1) < radius**2) for h in home]

    n_per = rng.poisson(np.outer(np.ones(days), rate))  # (days, customers)
    cust = np.repeat(np.tile(np.arange(customers), days), n_per.ravel())
    day = np.repeat(np.repeat(np.arange(days), customers), n_per.ravel())
    secs = np.clip(rng.normal(DAY / 2, 20000, len(cust)), 0, DAY - 1)
    keep = np.array([len(near[c]) > 0 for c in range(customers)])[cust]
    cust, day, secs = cust[keep], day[keep], secs[keep]
    term = np.array([near[c][rng.integers(len(near[c]))] for c in cust], dtype=int)
    amount = np.abs(rng.normal(mean_amt[cust], mean_amt[cust] / 2)).round(2)

    scenario = np.zeros(len(cust), dtype=int)
    scenario[amount > 220] = 1
    for d0 in range(days):
        bad_t = rng.choice(
            terminals, min(terminals, rng.poisson(2 * terminals / 10000)), replace=False
        )
        hit = np.isin(term, bad_t) & (day >= d0) & (day < d0 + 28) & (scenario == 0)
        scenario[hit] = 2
        bad_c = rng.choice(
            customers, min(customers, rng.poisson(3 * customers / 5000)), replace=False
        )
        cand = np.flatnonzero(
            np.isin(cust, bad_c) & (day >= d0) & (day < d0 + 14) & (scenario == 0)
        )
        pick = cand[rng.random(len(cand)) < 1 / 3]
        amount[pick] *= 5
        scenario[pick] = 3
    y = (scenario > 0).astype("int64")

    t = day * DAY + secs
    order = np.argsort(t, kind="stable")
    cust, term, day, secs, amount, scenario, y, t = (
        a[order] for a in (cust, term, day, secs, amount, scenario, y, t)
    )
    cols = [amount, (secs < 6 * 3600).astype(float), ((day % 7) >= 5).astype(float)]
    for w in WINDOWS:
        c, s = _window_stats(cust, t, amount, w * DAY, 1e-6)  # the past, not this transaction
        cols += [c, np.where(c > 0, s / np.maximum(c, 1), 0.0)]
    for w in WINDOWS:
        c, s = _window_stats(term, t, y.astype(float), (w + delay) * DAY, delay * DAY)
        cols += [c, np.where(c > 0, s / np.maximum(c, 1), 0.0)]
    spec = fraud_spec()
    x = np.column_stack(
        [f.scale(np.clip(col, f.lo, f.hi)) for f, col in zip(spec.features, cols, strict=True)]
    )
    return FraudData(
        x=x.astype("float32"), y=y, day=day, scenario=scenario, amount=amount,
        customer=cust, terminal=term, spec=spec,
    )  # fmt: skip
