"""Security that keeps performance: what each defence of chapters 04-09 costs (chapter 10).

The article's outlook asks for "security that keeps performance".  Every defence the course
measures has a price: clean accuracy lost, and training time.  :func:`load_tradeoffs` reads the
figures the chapters' benchmark scripts recorded (``bench/*.py --record`` writes them into
``tradeoffs.json`` beside this module through ``bench/_record.py``, each row naming the script,
machine and date that produced it), and :func:`pareto_front` finds the defences no other beats on
both axes at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelsec_edu import validation

__all__ = ["TRADEOFFS", "Tradeoff", "load_tradeoffs", "pareto_front"]

TRADEOFFS = Path(__file__).with_name("tradeoffs.json")


@dataclass(frozen=True)
class Tradeoff:
    """One defence, measured: accuracies in [0, 1]; ``cost``: training time over a plain model's."""

    chapter: str
    defence: str
    clean: float
    attacked: float
    attack: str
    cost: float
    source: str


def load_tradeoffs(path: Any = TRADEOFFS) -> list[Tradeoff]:
    """The recorded rows, or an empty list when nothing has been recorded yet."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return [Tradeoff(**r) for r in rows]


def pareto_front(clean: Any, robust: Any) -> np.ndarray:
    """Indices of the points no other beats on both ``clean`` and ``robust`` (higher is better).

    A point is dominated when another is at least as good on both axes and strictly better on
    one.  Ties are kept.  Returned in increasing order of ``clean``.
    """
    c = validation.check_array(clean, "clean", ndim=1, dtype="float64")
    r = validation.check_array(robust, "robust", ndim=1, dtype="float64")
    if c.shape != r.shape:
        raise ValueError(f"clean and robust must have the same length, got {len(c)} and {len(r)}")
    better_eq = (c[None, :] >= c[:, None]) & (r[None, :] >= r[:, None])
    strictly = (c[None, :] > c[:, None]) | (r[None, :] > r[:, None])
    dominated = np.any(better_eq & strictly, axis=1)
    keep = np.flatnonzero(~dominated)
    return keep[np.argsort(c[keep], kind="stable")]
