"""Security that keeps performance: what each defence of chapters 04-09 costs (chapter 10).

Threat model: an attacker who runs the strongest attack each chapter measured against a defended
model; the defender pays in clean accuracy and training time.  The article's outlook asks for
"security that keeps performance": :func:`load_tradeoffs` reads the figures the chapters'
benchmark scripts recorded and :func:`pareto_front` finds the defences no other beats on both
axes at once (Carlini et al. 2019, https://arxiv.org/abs/1902.06705, on reporting robustness).

Where the figures come from: ``python bench/<script>.py --record`` writes one file per script,
``results/<script>.json`` beside this module (through ``bench/_record.py``), each row naming the
script, machine and date that measured it.  A shipped model's card may add rows the same way
(a ``{"made_by": ..., "rows": [...]}`` file in ``results/``).  Nothing here is typed by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelsec_edu import validation

__all__ = [
    "DEFENCE_CHAPTERS",
    "RESULTS",
    "Tradeoff",
    "load_tradeoffs",
    "missing_chapters",
    "pareto_front",
]

RESULTS = Path(__file__).with_name("results")
# The chapters whose defences the plot should cover (issue 14).
DEFENCE_CHAPTERS = ("04", "05", "06", "07", "08", "09")
_FIELDS = ("chapter", "defence", "clean", "attacked", "attack", "cost", "source")


@dataclass(frozen=True)
class Tradeoff:
    """One defence, measured: accuracies in [0, 1]; ``cost``: training time over a plain model's.

    ``source`` names the bench script (or model card), machine and date that produced the row.
    """

    chapter: str
    defence: str
    clean: float
    attacked: float
    attack: str
    cost: float
    source: str


def _row(doc: dict, file: Path) -> Tradeoff:
    missing = [k for k in _FIELDS if k not in doc]
    if missing:
        raise ValueError(f"{file.name}: a tradeoff row needs {missing}, got {sorted(doc)}")
    row = Tradeoff(**{k: doc[k] for k in _FIELDS})
    for name in ("clean", "attacked"):
        value = getattr(row, name)
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{file.name}: {name} must be an accuracy in [0, 1], got {value!r}")
    if not isinstance(row.cost, (int, float)) or not row.cost > 0:
        raise ValueError(f"{file.name}: cost must be a positive time ratio, got {row.cost!r}")
    return row


def load_tradeoffs(path: Any = RESULTS) -> list[Tradeoff]:
    """Every recorded row, sorted by chapter and defence; an empty list when none is recorded.

    ``path`` is the ``results`` folder (every ``*.json`` in it is read) or one such file.  A
    malformed file raises ``ValueError`` naming it.
    """
    path = validation.check_path(path, "path")
    files = sorted(path.glob("*.json")) if path.is_dir() else [path] if path.is_file() else []
    rows = []
    for file in files:
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{file.name} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            raise ValueError(f"{file.name} must hold {{'rows': [...]}}")
        rows.extend(_row(r, file) for r in doc["rows"])
    return sorted(rows, key=lambda r: (r.chapter, r.defence))


def missing_chapters(rows: list[Tradeoff], chapters: tuple[str, ...] = DEFENCE_CHAPTERS):
    """The chapters of ``chapters`` that no row covers yet (what the plot still lacks)."""
    have = {r.chapter for r in rows}
    return [c for c in chapters if c not in have]


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
