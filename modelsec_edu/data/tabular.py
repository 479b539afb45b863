"""A table's descriptor: each feature's type, bounds and cost, and if attackers may change it.

An image attack may move any pixel anywhere in [0, 1].  A loan application is
not like that: "purpose" is one of ten categories (a one-hot group that must
stay one-hot), the duration is a whole number of months, the applicant's age
and the bank's record of their past credits cannot be changed at all, and
asking for a smaller loan is cheaper than changing jobs.  A
:class:`TabularSpec` carries those facts so that attacks (chapter 08's
constrained evasion, :mod:`modelsec_edu.evasion.constrained`) and their
validity checks never guess them.

The encoded matrix the models see is min-max scaled: every numeric column lies
in [0, 1] (its raw ``lo`` maps to 0 and ``hi`` to 1), every category is a 0/1
column of its group.  An integer feature with raw range ``[lo, hi]`` is valid
only on the grid ``k / (hi - lo)``.

The threat model it describes, after Ballet et al. 2019 (LowProFool,
https://arxiv.org/abs/1911.03274) and Simonetto et al. 2024 (constrained
adversarial attacks on tabular data, https://arxiv.org/abs/2406.00775): the
attacker changes only mutable features, keeps every feature of a valid type
within its bounds, and pays ``cost`` per unit of change.

Used in chapters 07 and 08.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array

__all__ = ["KINDS", "Feature", "TabularSpec", "Validity", "stratified_split"]

KINDS = ("continuous", "integer", "onehot")


@dataclass(frozen=True)
class Feature:
    """One feature of a table: its type, its encoded columns, its raw bounds and its cost.

    ``kind`` is ``"continuous"``, ``"integer"`` or ``"onehot"``; a one-hot
    feature occupies one column per entry of ``categories``, a numeric one a
    single column.  ``lo``/``hi`` are raw bounds (numeric features only).
    ``mutable`` says whether the attacker controls it; ``cost`` is what one
    unit of change costs them (a full step of the scaled range, or switching
    category).
    """

    name: str
    kind: str
    columns: tuple[int, ...]
    lo: float = 0.0
    hi: float = 1.0
    mutable: bool = False
    cost: float = 1.0
    categories: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"Feature {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )
        if self.kind == "onehot" and len(self.columns) != len(self.categories):
            raise ValueError(f"Feature {self.name!r}: one column per category expected")
        if self.kind != "onehot" and len(self.columns) != 1:
            raise ValueError(f"Feature {self.name!r}: a numeric feature has exactly one column")
        if not self.hi > self.lo:
            raise ValueError(
                f"Feature {self.name!r}: hi must exceed lo, got [{self.lo}, {self.hi}]"
            )
        if not (np.isfinite(self.cost) and self.cost > 0):
            raise ValueError(f"Feature {self.name!r}: cost must be finite and > 0, got {self.cost}")

    def scale(self, raw: Any) -> np.ndarray:
        """Raw values of a numeric feature to its encoded [0, 1] column."""
        return ((np.asarray(raw, dtype="float64") - self.lo) / (self.hi - self.lo)).astype(
            "float32"
        )

    def unscale(self, col: Any) -> np.ndarray:
        """An encoded column back to raw units."""
        return np.asarray(col, dtype="float64") * (self.hi - self.lo) + self.lo


@dataclass(frozen=True)
class Validity:
    """Which rows of an attacked table are possible, and why the others are not.

    Each array has one entry per row: ``onehot`` (every group exactly one 1),
    ``integer`` (integers on their grid), ``bounds`` (every column in [0, 1]),
    ``immutable`` (fixed features unchanged); ``valid`` is all four.  An
    integer counts as on its grid within 1% of a step (float32 storage).
    """

    onehot: np.ndarray
    integer: np.ndarray
    bounds: np.ndarray
    immutable: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.onehot & self.integer & self.bounds & self.immutable

    def counts(self) -> dict[str, int]:
        """Rows that break each rule (a row may break several), and the valid ones."""
        return {
            "rows": len(self.valid),
            "valid": int(self.valid.sum()),
            "fractional one-hot": int((~self.onehot).sum()),
            "non-integer": int((~self.integer).sum()),
            "out of bounds": int((~self.bounds).sum()),
            "immutable changed": int((~self.immutable).sum()),
        }


@dataclass(frozen=True)
class TabularSpec:
    """The descriptor of an encoded table: its features in column order, and its classes."""

    name: str
    features: tuple[Feature, ...]
    classes: tuple[str, ...]
    synthetic: bool = False
    _width: int = field(init=False, repr=False, default=0)

    def __post_init__(self):
        cols = sorted(c for f in self.features for c in f.columns)
        if cols != list(range(len(cols))):
            raise ValueError(f"{self.name}: feature columns must cover 0..d-1 exactly once")
        object.__setattr__(self, "_width", len(cols))

    @property
    def n_features(self) -> int:
        """Width of the encoded matrix (one-hot columns counted one by one)."""
        return self._width

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no feature {name!r}")

    @property
    def column_names(self) -> list[str]:
        names = [""] * self._width
        for f in self.features:
            if f.kind == "onehot":
                for c, cat in zip(f.columns, f.categories, strict=True):
                    names[c] = f"{f.name}={cat}"
            else:
                names[f.columns[0]] = f.name
        return names

    def _per_column(self, value) -> np.ndarray:
        out = np.zeros(self._width, dtype="float32")
        for f in self.features:
            out[list(f.columns)] = value(f)
        return out

    def mutable_mask(self) -> np.ndarray:
        """1.0 for the columns the attacker may change, 0.0 for the fixed ones."""
        return self._per_column(lambda f: float(f.mutable))

    def costs(self) -> np.ndarray:
        """Each column's cost per unit of encoded change (a category switch moves two columns)."""
        return self._per_column(lambda f: f.cost / 2 if f.kind == "onehot" else f.cost)

    def integer_steps(self) -> np.ndarray:
        """The grid step of each integer column in encoded units (0 for the others)."""
        return self._per_column(lambda f: 1.0 / (f.hi - f.lo) if f.kind == "integer" else 0.0)

    def groups(self, *, mutable_only: bool = False) -> list[np.ndarray]:
        """The columns of each one-hot group."""
        return [
            np.array(f.columns)
            for f in self.features
            if f.kind == "onehot" and (f.mutable or not mutable_only)
        ]

    def project(self, x: Any, x_orig: Any) -> np.ndarray:
        """The nearest valid table to a relaxed one: fixed features restored, numbers clipped to
        [0, 1], integers rounded to their grid, each one-hot group set to its largest entry."""
        x = check_array(x, "x", ndim=2).astype("float64")  # a copy: the caller's array stays
        x0 = check_array(x_orig, "x_orig", ndim=2)
        if x.shape != x0.shape or x.shape[1] != self._width:
            raise ValueError(
                f"x and x_orig must both have shape (n, {self._width}), "
                f"got {x.shape} and {x0.shape}"
            )
        fixed = self.mutable_mask() == 0
        x[:, fixed] = x0[:, fixed]
        x = np.clip(x, 0.0, 1.0)
        step = self.integer_steps().astype("float64")
        ints = step > 0
        x[:, ints] = np.clip(np.round(x[:, ints] / step[ints]) * step[ints], 0.0, 1.0)
        for cols in self.groups():
            pick = np.argmax(x[:, cols], axis=1)
            x[:, cols] = 0.0
            x[np.arange(len(x)), cols[pick]] = 1.0
        return x.astype("float32")

    def validity(self, x: Any, x_orig: Any, *, atol: float = 1e-5) -> Validity:
        """Check every row of ``x`` (an attacked copy of ``x_orig``) against the spec."""
        x = check_array(x, "x", ndim=2).astype("float64")
        x0 = check_array(x_orig, "x_orig", ndim=2).astype("float64")
        if x.shape != x0.shape or x.shape[1] != self._width:
            raise ValueError(
                f"x and x_orig must both have shape (n, {self._width}), "
                f"got {x.shape} and {x0.shape}"
            )
        onehot = np.ones(len(x), dtype=bool)
        for cols in self.groups():
            g = x[:, cols]
            binary = np.all((np.abs(g) <= atol) | (np.abs(g - 1) <= atol), axis=1)
            onehot &= binary & (np.abs(g.sum(axis=1) - 1) <= atol)
        step = self.integer_steps().astype("float64")
        ints = step > 0
        k = x[:, ints] / step[ints]
        integer = np.all(np.abs(k - np.round(k)) <= 0.01, axis=1)  # float32 storage: 1% of a step
        bounds = np.all((x >= -atol) & (x <= 1 + atol), axis=1)
        fixed = self.mutable_mask() == 0
        immutable = np.all(np.abs(x[:, fixed] - x0[:, fixed]) <= atol, axis=1)
        return Validity(onehot=onehot, integer=integer, bounds=bounds, immutable=immutable)

    def change_cost(self, x: Any, x_orig: Any) -> np.ndarray:
        """What each row's changes cost the attacker: sum of ``cost * |change|`` over columns."""
        x = check_array(x, "x", ndim=2).astype("float64")
        x0 = check_array(x_orig, "x_orig", ndim=2).astype("float64")
        return np.abs(x - x0) @ self.costs().astype("float64")

    def sample(self, n: int, *, seed: int | None = None) -> np.ndarray:
        """``n`` valid rows drawn uniformly, feature by feature (what an attacker who knows only the
        schema can make up: a pool of synthetic queries)."""
        rng = np.random.default_rng(seed)
        x = np.zeros((n, self._width), dtype="float32")
        for f in self.features:
            if f.kind == "onehot":
                pick = rng.integers(len(f.columns), size=n)
                x[np.arange(n), np.array(f.columns)[pick]] = 1.0
            elif f.kind == "integer":
                x[:, f.columns[0]] = f.scale(rng.integers(int(f.lo), int(f.hi) + 1, size=n))
            else:
                x[:, f.columns[0]] = rng.uniform(0, 1, size=n)
        return x

    def decode(self, row: Any) -> dict[str, Any]:
        """One encoded row as readable raw values: ``{"purpose": "car (new)", ...}``."""
        row = check_array(row, "row", ndim=1, min_len=self._width)
        out: dict[str, Any] = {}
        for f in self.features:
            if f.kind == "onehot":
                out[f.name] = f.categories[int(np.argmax(row[list(f.columns)]))]
            else:
                v = float(f.unscale(row[f.columns[0]]))
                out[f.name] = int(round(v)) if f.kind == "integer" else v
        return out


def stratified_split(
    x: Any, y: Any, *, test_size: float = 0.3, seed: int | None = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``, each class split in the same proportion."""
    from modelsec_edu.validation import check_float, check_labels, check_seed

    x = check_array(x, "x", ndim=2)
    y = check_labels(y, "y", n=len(x))
    test_size = check_float(test_size, "test_size", min=0, max=1, min_open=True, max_open=True)
    rng = np.random.default_rng(check_seed(seed))
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: int(round(test_size * len(idx)))]] = True
    return (x[~test], y[~test]), (x[test], y[test])
