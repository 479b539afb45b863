"""Two real clinical tables that ship inside scikit-learn, as classification tasks.

* :func:`load_diabetes`: 442 patients, 10 baseline measurements (age, sex, body
  mass index, blood pressure and six blood-serum values), and a measure of
  disease progression one year later (Efron et al. 2004,
  https://doi.org/10.1214/009053604000000067).  As a task: is the progression
  **above the median**?  221 patients in each class.
* :func:`load_breast_cancer`: 569 tumours, 30 features computed from a
  digitised image of a fine-needle aspirate (mean, standard error and worst
  value of ten nucleus measurements), malignant or benign (the Wisconsin
  Diagnostic Breast Cancer data, Street et al. 1993,
  https://doi.org/10.1117/12.148698).

Both are read from the scikit-learn wheel: no download, fully offline.  Each
loader returns a :class:`TabularDataset` that carries what attacks and
defences need besides the numbers: feature names, the **observed range** of
every feature (a clinical plausibility box: an "adversarial patient" outside
it is impossible), the **mutable mask** (which features an attacker who
falsifies a record could change), and the index of sensitive attributes
(``sex`` for attribute inference).  Features are standardised (z-scores over
the whole table) because the networks train better on them; ``to_raw`` maps
back to clinical units.  Used in chapter 07.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelsec_edu.data.tabular import Feature, TabularSpec
from modelsec_edu.validation import check_array, check_bool, check_float, check_seed

__all__ = ["TabularDataset", "load_breast_cancer", "load_diabetes"]


@dataclass(frozen=True)
class TabularDataset:
    """A table with labels and the facts an attack or a defence must respect.

    Attributes:
        name: short name of the table.
        x: float32 features, shape ``(n, d)`` (standardised when ``mean`` and
            ``scale`` are not all 0 and 1).
        y: int64 labels, shape ``(n,)``.
        feature_names: ``d`` names, in clinical terms.
        class_names: one name per class.
        lo, hi: per-feature observed minimum and maximum, in the units of ``x``:
            pass ``clip=(ds.lo, ds.hi)`` to an attack to stay inside them.
        mutable: float32 0/1 mask of the features an attacker may change: pass
            ``mask=ds.mutable``.
        sensitive: name -> feature index of attributes a patient would not
            want inferred (e.g. ``{"sex": 1}``).
        mean, scale: the standardisation, ``x = (raw - mean) / scale``.
        source: where the data comes from (citation).
    """

    name: str
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    lo: np.ndarray = field(repr=False)
    hi: np.ndarray = field(repr=False)
    mutable: np.ndarray = field(repr=False)
    sensitive: dict[str, int] = field(default_factory=dict)
    mean: np.ndarray = field(default=None, repr=False)
    scale: np.ndarray = field(default=None, repr=False)
    source: str = ""

    @property
    def n_features(self) -> int:
        return self.x.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def to_raw(self, x) -> np.ndarray:
        """Features in clinical units (undo the standardisation)."""
        x = check_array(x, "x", ndim=2, dtype="float64")
        return x * self.scale + self.mean

    def in_range(self, x, *, tol: float = 1e-5) -> np.ndarray:
        """Per row: does every feature lie inside the observed range (``tol`` for rounding)?"""
        x = check_array(x, "x", ndim=2)
        return np.all((x >= self.lo - tol) & (x <= self.hi + tol), axis=1)

    def unit(self, x) -> np.ndarray:
        """``x`` min-max scaled by the observed range: ``lo`` maps to 0, ``hi`` to 1.

        The encoding :meth:`spec` describes, which the constrained attacks of
        :mod:`modelsec_edu.evasion.constrained` expect.
        """
        x = check_array(x, "x", ndim=2, dtype="float64")
        return ((x - self.lo) / np.where(self.hi > self.lo, self.hi - self.lo, 1.0)).astype(
            "float32"
        )

    def spec(self) -> TabularSpec:
        """The table as a :class:`~modelsec_edu.data.TabularSpec` over :meth:`unit` columns.

        Every feature is continuous, bounded by its observed range in clinical
        units, mutable as ``mutable`` says, at cost 1 per full range.
        """
        raw_lo, raw_hi = self.to_raw(self.lo[None])[0], self.to_raw(self.hi[None])[0]
        features = tuple(
            Feature(
                name,
                "continuous",
                (j,),
                lo=float(raw_lo[j]),
                hi=float(raw_hi[j]),
                mutable=bool(self.mutable[j]),
            )
            for j, name in enumerate(self.feature_names)
        )
        return TabularSpec(self.name, features, self.class_names)

    def split(self, fraction: float = 0.5, *, seed: int | None = 0):
        """Stratified split into ``(x_a, y_a), (x_b, y_b)``, ``fraction`` of each class in ``a``.

        The chapter's members (training set) and non-members (held out).
        """
        fraction = check_float(fraction, "fraction", min=0.0, max=1.0, min_open=True, max_open=True)
        rng = np.random.default_rng(check_seed(seed))
        first = []
        for c in np.unique(self.y):
            idx = rng.permutation(np.flatnonzero(self.y == c))
            first.append(idx[: int(round(fraction * len(idx)))])
        a = np.sort(np.concatenate(first))
        b = np.setdiff1d(np.arange(len(self.y)), a)
        return (self.x[a], self.y[a]), (self.x[b], self.y[b])


def _build(name, raw, y, feature_names, class_names, mutable, sensitive, source, standardize):
    standardize = check_bool(standardize, "standardize")
    raw = np.asarray(raw, dtype="float64")
    if standardize:
        mean, scale = raw.mean(axis=0), raw.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        mean, scale = np.zeros(raw.shape[1]), np.ones(raw.shape[1])
    x = ((raw - mean) / scale).astype("float32")
    arrays = {
        "x": x,
        "y": np.asarray(y, dtype="int64"),
        "lo": x.min(axis=0),
        "hi": x.max(axis=0),
        "mutable": np.asarray(mutable, dtype="float32"),
        "mean": mean,
        "scale": scale,
    }
    for a in arrays.values():
        a.setflags(write=False)
    return TabularDataset(
        name=name,
        feature_names=tuple(str(f) for f in feature_names),
        class_names=tuple(class_names),
        sensitive=dict(sensitive),
        source=source,
        **arrays,
    )


DIABETES_NAMES = (
    "age",
    "sex",
    "body mass index",
    "blood pressure",
    "s1 total cholesterol",
    "s2 LDL",
    "s3 HDL",
    "s4 cholesterol/HDL",
    "s5 log triglycerides",
    "s6 glucose",
)


def load_diabetes(*, standardize: bool = True) -> TabularDataset:
    """The diabetes table as classification: one-year progression above the median (1) or not (0).

    Age and sex are immutable (``mutable`` is 0 there): a falsified record
    changes measurements, not who the patient is.  ``sensitive["sex"]`` is
    the column attribute inference recovers; the table codes sex as 1 or 2
    without saying which is which, and so does this course.
    """
    from sklearn import datasets

    bunch = datasets.load_diabetes(scaled=False)
    y = (bunch.target > np.median(bunch.target)).astype("int64")
    mutable = np.ones(10)
    mutable[[0, 1]] = 0
    return _build(
        "diabetes",
        bunch.data,
        y,
        DIABETES_NAMES,
        ("progression <= median", "progression > median"),
        mutable,
        {"sex": 1},
        "Efron, Hastie, Johnstone & Tibshirani 2004 (scikit-learn's load_diabetes)",
        standardize,
    )


def load_breast_cancer(*, standardize: bool = True) -> TabularDataset:
    """The Wisconsin Diagnostic Breast Cancer table: 0 = malignant, 1 = benign (as scikit-learn).

    The nine **size** features (radius, perimeter and area: mean, standard
    error and worst) are immutable: they are cross-checked against the lesion
    size recorded at the biopsy and imaging, so a falsified record that changes
    them is caught.  The texture and shape descriptors (smoothness,
    compactness, concavity, symmetry, ...) are mutable.  That split is this
    course's assumption for the exercise, not a clinical fact.
    """
    from sklearn import datasets

    bunch = datasets.load_breast_cancer()
    names = [str(f) for f in bunch.feature_names]
    mutable = np.array(
        [0.0 if any(k in f for k in ("radius", "perimeter", "area")) else 1.0 for f in names]
    )
    return _build(
        "breast_cancer",
        bunch.data,
        bunch.target,
        names,
        ("malignant", "benign"),
        mutable,
        {},
        "Street, Wolberg & Mangasarian 1993, WDBC (scikit-learn's load_breast_cancer)",
        standardize,
    )
