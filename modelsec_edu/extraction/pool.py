"""The attacker's query pool: plausible applicants made from a few real ones and the schema.

**Threat model** (Tramer et al. 2016, section 6, and Papernot et al. 2017's
substitute training, https://arxiv.org/abs/1602.02697): a competitor who wants
to copy a bank's credit scorer has the public schema of the application form
(:class:`~modelsec_edu.data.TabularSpec`) and a few applications of its own
customers, far fewer than its query budget, but not the bank's training data.

Rows drawn uniformly from the schema (:meth:`TabularSpec.sample`) are valid
but implausible: a 19-year-old with four existing credits and 35 years in the
job.  Most of them fall far from where real applicants lie, so their labels
teach the copy little about the decisions that matter.  :func:`plausible_pool`
keeps each made-up row close to a real one instead: it copies one of the
attacker's own rows and replaces ``resample`` of its features by the values
another of them holds (a category, or a number, so every row stays valid).
This is the "feature-wise recombination" common in tabular data augmentation,
written here because it is five lines.  Used in chapter 08.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelsec_edu.data.tabular import TabularSpec
from modelsec_edu.validation import check_array, check_int, check_seed

__all__ = ["plausible_pool"]


def plausible_pool(
    spec: TabularSpec, seeds: Any, n: int, *, resample: int = 3, seed: int | None = 0
) -> np.ndarray:
    """``n`` valid rows, each a row of ``seeds`` with ``resample`` features taken from others.

    Args:
        spec: the table's descriptor.
        seeds: the attacker's own encoded rows ``(m, d)``, valid under ``spec``.
        n: rows to make.
        resample: features replaced per row (0 copies rows of ``seeds``; the
            number of features draws each feature from a random row: the
            product of the marginals).
        seed: seeds the draw.
    """
    if not isinstance(spec, TabularSpec):
        raise TypeError(f"spec must be a TabularSpec, got {type(spec).__name__}")
    rows = check_array(seeds, "seeds", ndim=2)
    if rows.shape[1] != spec.n_features or len(rows) < 2:
        raise ValueError(f"seeds must have shape (m >= 2, {spec.n_features}), got {rows.shape}")
    n = check_int(n, "n", min=1)
    k = check_int(resample, "resample", min=0, max=len(spec.features))
    rng = np.random.default_rng(check_seed(seed))
    out = rows[rng.integers(len(rows), size=n)].astype("float32")
    cols = [np.array(f.columns) for f in spec.features]
    which = np.argsort(rng.random((n, len(cols))), axis=1)[:, :k]  # k distinct features per row
    donor = rng.integers(len(rows), size=(n, k))  # and the row each is taken from
    for f, c in enumerate(cols):
        hit, slot = np.nonzero(which == f)
        if len(hit):
            out[np.ix_(hit, c)] = rows[donor[hit, slot]][:, c]
    return out
