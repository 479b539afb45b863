"""How well an attacker tells members from non-members: ROC, AUC, advantage, TPR at low FPR.

A membership-inference attack gives every candidate record a **score**
(higher: "more likely in the training set").  Three numbers summarise it:

* the **AUC**: the chance that a random member scores above a random
  non-member (0.5 is guessing);
* the **membership advantage** of Yeom et al. 2018, ``max_t TPR(t) - FPR(t)``:
  how much better than a coin the best single threshold does;
* the **TPR at a low FPR** (Carlini et al. 2022): the share of members caught
  while wrongly accusing at most, say, 1% of non-members.  An attack can have
  an AUC near 0.5 and still identify a few patients with certainty: that is
  the number a hospital should worry about.

At 1% FPR on 221 non-members the threshold rests on the two or three
highest-scoring non-members, so :meth:`MembershipResult.tpr_interval` gives
a bootstrap interval (resampling members and non-members) with every figure.

Papers: Yeom et al. 2018, https://arxiv.org/abs/1709.01604 ; Carlini et al.
2022, "Membership inference attacks from first principles",
https://arxiv.org/abs/2112.03570 .  Used in chapters 07 and 08.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelsec_edu.validation import check_array, check_float, check_int, check_seed

__all__ = ["MembershipResult", "advantage", "auc", "roc_curve", "tpr_at_fpr"]


def _scores(s_in, s_out) -> tuple[np.ndarray, np.ndarray]:
    s_in = check_array(s_in, "s_in (the members' scores)", ndim=1, dtype="float64")
    s_out = check_array(s_out, "s_out (the non-members' scores)", ndim=1, dtype="float64")
    return s_in, s_out


def roc_curve(s_in, s_out) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` over every threshold, from (0, 0) to (1, 1) (scikit-learn's curve)."""
    from sklearn.metrics import roc_curve as sk_roc

    s_in, s_out = _scores(s_in, s_out)
    labels = np.r_[np.ones(len(s_in)), np.zeros(len(s_out))]
    fpr, tpr, _ = sk_roc(labels, np.r_[s_in, s_out], drop_intermediate=False)
    return fpr, tpr


def auc(s_in, s_out) -> float:
    """Area under the ROC curve: P(member score > non-member score), ties counted half."""
    from sklearn.metrics import roc_auc_score

    s_in, s_out = _scores(s_in, s_out)
    return float(roc_auc_score(np.r_[np.ones(len(s_in)), np.zeros(len(s_out))], np.r_[s_in, s_out]))


def advantage(s_in, s_out) -> float:
    """Yeom et al.'s membership advantage, ``max over thresholds of TPR - FPR`` (in [0, 1])."""
    fpr, tpr = roc_curve(s_in, s_out)
    return float(max(0.0, np.max(tpr - fpr)))


def tpr_at_fpr(s_in, s_out, fpr: float) -> float:
    """The share of members scored above a threshold that at most ``fpr`` of non-members pass.

    The threshold is the ``(k+1)``-th highest non-member score, ``k =
    floor(fpr * n_non_members)``; a member counts when its score is strictly
    above it, so the false-positive rate never exceeds ``fpr``.
    """
    fpr = check_float(fpr, "fpr", min=0.0, max=1.0)
    s_in, s_out = _scores(s_in, s_out)
    k = int(np.floor(fpr * len(s_out) + 1e-9))
    if k >= len(s_out):
        return 1.0
    threshold = np.sort(s_out)[::-1][k]
    return float(np.mean(s_in > threshold))


@dataclass(frozen=True)
class MembershipResult:
    """The scores an attack gave to known members and non-members, and what they amount to.

    ``scores_in[i]`` is member ``i``'s score, ``scores_out[j]`` non-member
    ``j``'s; higher means "member".  ``auc`` and ``advantage`` are computed
    once; :meth:`tpr_at_fpr` and :meth:`tpr_interval` on demand.
    """

    method: str
    scores_in: np.ndarray = field(repr=False)
    scores_out: np.ndarray = field(repr=False)
    auc: float = 0.5
    advantage: float = 0.0

    @classmethod
    def from_scores(cls, method: str, scores_in, scores_out) -> MembershipResult:
        s_in, s_out = _scores(scores_in, scores_out)
        s_in.setflags(write=False)
        s_out.setflags(write=False)
        return cls(method, s_in, s_out, auc(s_in, s_out), advantage(s_in, s_out))

    def tpr_at_fpr(self, fpr: float) -> float:
        """True-positive rate at false-positive rate ``fpr`` (see :func:`tpr_at_fpr`)."""
        return tpr_at_fpr(self.scores_in, self.scores_out, fpr)

    def roc(self) -> tuple[np.ndarray, np.ndarray]:
        """``(fpr, tpr)`` of the attack."""
        return roc_curve(self.scores_in, self.scores_out)

    def tpr_interval(
        self, fpr: float, *, n_boot: int = 1000, level: float = 0.95, seed: int | None = 0
    ) -> tuple[float, float]:
        """A percentile bootstrap interval for :meth:`tpr_at_fpr`, resampling both groups."""
        fpr = check_float(fpr, "fpr", min=0.0, max=1.0)
        n_boot = check_int(n_boot, "n_boot", min=10)
        level = check_float(level, "level", min=0.0, max=1.0, min_open=True, max_open=True)
        rng = np.random.default_rng(check_seed(seed))
        s_in, s_out = self.scores_in, self.scores_out
        k = int(np.floor(fpr * len(s_out) + 1e-9))
        draws = np.empty(n_boot)
        for b in range(n_boot):
            bi = s_in[rng.integers(0, len(s_in), len(s_in))]
            bo = np.sort(s_out[rng.integers(0, len(s_out), len(s_out))])[::-1]
            draws[b] = 1.0 if k >= len(bo) else np.mean(bi > bo[k])
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        return float(lo), float(hi)

    def summary(self, fpr: float = 0.01) -> str:
        """One line: AUC, advantage and TPR at ``fpr`` with its 95% interval."""
        lo, hi = self.tpr_interval(fpr)
        return (
            f"{self.method}: AUC {self.auc:.3f}, advantage {self.advantage:.3f}, "
            f"TPR at {fpr:.0%} FPR {self.tpr_at_fpr(fpr):.1%} (95% CI {lo:.1%}-{hi:.1%}; "
            f"{len(self.scores_in)} members, {len(self.scores_out)} non-members)"
        )
