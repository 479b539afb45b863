"""A PRADA-style monitor: flag an account whose queries do not look like real customers'.

**Threat model, defender's side** (Juuti et al. 2019, "PRADA: Protecting
Against DNN Model Stealing Attacks", IEEE EuroS&P,
https://arxiv.org/abs/1805.02628): the bank sees every query each account
sends, and nothing else.  Real customers' applications are spread the way real
people are; an extraction attack's queries are made up (random rows of the
schema, points near the boundary, unit vectors), and their spacing shows it.

For each query the monitor takes its distance to the nearest earlier query of
the same account.  PRADA observed that for benign streams these distances look
normally distributed, and for extraction streams they do not; it tests this
with the Shapiro-Wilk statistic ``W`` (1 for a perfect normal sample) and
raises an alarm when ``W`` falls under a threshold ``delta``.  The threshold is
**calibrated** on benign streams for a chosen false-alarm rate
(:meth:`QueryMonitor.calibrate`).  What changes from the paper: one set of
distances per account (PRADA keeps one per predicted class and adds a query to
it only when it is far from the others), and the test starts after
``warmup`` queries.

A monitor is a deterrent, not a proof: an attacker who knows it can mimic the
distances (PRADA discusses this), at the price of more queries.  Used in
chapter 08.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int

__all__ = ["STATISTICS", "MonitorResult", "QueryMonitor", "combine", "min_distances"]


def min_distances(stream: Any) -> np.ndarray:
    """``d[i]``: L2 distance from query ``i`` to the nearest earlier query (``d[0]`` is NaN)."""
    x = check_array(stream, "stream", ndim=2, dtype="float64")
    sq = (x**2).sum(axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    dist[np.triu_indices(len(x))] = np.inf  # only earlier queries count
    out = dist.min(axis=1)
    out[0] = np.nan
    return out


@dataclass(frozen=True)
class MonitorResult:
    """Per stream: the query at which the alarm rang (``-1``: never), and the suspicion curve."""

    alarm_at: np.ndarray
    curves: list[np.ndarray]

    def detected(self, within: int | None = None) -> np.ndarray:
        """Which streams raised an alarm (within their first ``within`` queries, if given)."""
        hit = self.alarm_at >= 0
        return hit if within is None else hit & (self.alarm_at < within)

    def rate(self, within: int | None = None) -> float:
        return float(self.detected(within).mean())


STATISTICS = ("shapiro", "reference", "spread")


def combine(*results: MonitorResult) -> MonitorResult:
    """Several monitors watching the same streams: the alarm rings at the earliest of theirs.

    Their false alarms add up (at most the sum of each monitor's rate), so
    calibrate each for a share of the total.
    """
    if not results or not all(isinstance(r, MonitorResult) for r in results):
        raise TypeError("combine takes one or more MonitorResult")
    if len({r.alarm_at.shape for r in results}) > 1:
        raise ValueError("the results must watch the same streams")
    alarms = np.array([r.alarm_at for r in results], dtype=float)
    alarms[alarms < 0] = np.inf
    first = alarms.min(axis=0)
    return MonitorResult(np.where(np.isfinite(first), first, -1).astype(int), results[0].curves)


class QueryMonitor:
    """Watch each account's queries; raise an alarm when its suspicion passes ``threshold``.

    ``statistic="shapiro"`` is PRADA's test: suspicion ``1 - W`` of the
    nearest-earlier-query distances.  ``statistic="reference"`` asks instead
    how far the account's queries lie from real customers: the running mean of
    each query's distance to the nearest row of ``reference`` (the bank's own
    applicants), in the spirit of Kesarwani et al. 2018's extraction warnings
    (https://arxiv.org/abs/1711.07221).  ``statistic="spread"`` watches the
    account's queries among themselves, as PRADA does, but asks how *close*
    they are: suspicion is minus the running mean of each query's distance to
    the nearest earlier one.  A copy-cat that makes its queries from a few real
    rows (:func:`.pool.plausible_pool`) keeps sending near-copies of them; real
    customers are spread the way the population is.  All three need a
    threshold calibrated on benign streams (:meth:`calibrate`).
    """

    def __init__(
        self,
        *,
        statistic: str = "shapiro",
        reference: Any = None,
        threshold: float = 0.1,
        warmup: int = 20,
    ):
        from modelsec_edu.validation import check_choice

        self.statistic = check_choice(statistic, "statistic", STATISTICS)
        if self.statistic == "reference":
            self.reference = check_array(reference, "reference", ndim=2, dtype="float64")
        else:
            self.reference = None
        self.threshold = check_float(threshold, "threshold")
        self.warmup = check_int(warmup, "warmup", min=3)

    def suspicion(self, stream: Any) -> np.ndarray:
        """The suspicion after each query from ``warmup`` on (NaN before)."""
        x = check_array(stream, "stream", ndim=2, dtype="float64")
        out = np.full(len(x), np.nan)
        if self.statistic == "reference":
            ref = self.reference
            sq = (x**2).sum(1)[:, None] + (ref**2).sum(1)[None, :] - 2 * x @ ref.T
            near = np.sqrt(np.maximum(sq, 0.0)).min(axis=1)
            run = np.cumsum(near) / np.arange(1, len(x) + 1)
            out[self.warmup :] = run[self.warmup :]
            return out
        d = min_distances(x)
        if self.statistic == "spread":
            run = np.cumsum(np.nan_to_num(d)) / np.maximum(np.arange(len(x)), 1)
            out[self.warmup :] = -run[self.warmup :]
            return out
        from scipy.stats import shapiro

        for i in range(self.warmup, len(d)):
            sample = d[1 : i + 1]
            out[i] = 0.0 if np.ptp(sample) == 0 else 1.0 - shapiro(sample).statistic
        return out

    def run(self, streams: Sequence[Any]) -> MonitorResult:
        """Watch each stream (an ``(n, d)`` array of one account's queries, in order)."""
        curves = [self.suspicion(s) for s in streams]
        alarm = [np.flatnonzero(c > self.threshold) for c in curves]
        return MonitorResult(np.array([a[0] if len(a) else -1 for a in alarm]), curves)

    def calibrate(self, benign: Sequence[Any], *, false_alarms: float = 0.05) -> QueryMonitor:
        """Set ``threshold`` so that at most ``false_alarms`` of the benign streams ever alarm.

        Returns ``self``.  Calibrate on streams other than those you report on.
        """
        false_alarms = check_float(false_alarms, "false_alarms", min=0, max=1)
        highest = np.sort([np.nanmax(self.suspicion(s)) for s in benign])[::-1]
        k = int(np.floor(false_alarms * len(highest)))  # alarm only above the k+1-th highest
        self.threshold = float(highest[k]) if k < len(highest) else float(-np.inf)
        return self
