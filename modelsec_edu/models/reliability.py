"""Knowing when the model doesn't know: calibration, abstention, several frames (chapter 09).

Threat model: accidents (fog, glare, a far-away sign) rather than an
attacker; a system that drives must notice when its classifier is unsure and
hand over, slow down or look again.

* **Calibration**: is a confidence of 0.9 right nine times in ten?  The
  expected calibration error (ECE) and the reliability diagram after Guo et
  al. 2017, "On Calibration of Modern Neural Networks"
  (https://arxiv.org/abs/1706.04599).
* **Abstention** (selective classification, Geifman & El-Yaniv 2017,
  https://arxiv.org/abs/1705.08500): answer only above a confidence
  threshold; the coverage-against-risk curve shows what each threshold buys.
* **A multi-frame vote**: average the probabilities over a short drive-by
  sequence of the same sign, so no single bad frame decides.

All functions take softmax probabilities (``models.predict_proba``) and NumPy
labels, and return NumPy values or small dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelsec_edu.validation import check_array, check_choice, check_float, check_int, check_labels

__all__ = [
    "Reliability",
    "RiskCoverage",
    "abstain",
    "best_error_at_coverage",
    "error_at_coverage",
    "expected_calibration_error",
    "plot_calibration",
    "reliability_diagram",
    "risk_coverage",
    "threshold_for_coverage",
    "vote",
]


def _probs(probs: Any, name: str = "probs") -> np.ndarray:
    p = check_array(probs, name, ndim=2, dtype="float64")
    if p.shape[1] < 2:
        raise ValueError(f"{name} must have at least two classes (columns), got shape {p.shape}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"{name} must hold probabilities: non-negative rows that sum to 1")
    return p


def _py(probs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _probs(probs)
    return p, check_labels(y, "y", n=len(p), num_classes=p.shape[1])


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram: per confidence bin, the mean confidence, accuracy and count."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted gap between confidence and accuracy."""
        seen = self.counts > 0
        w = self.counts[seen] / self.counts.sum()
        return float(np.sum(w * np.abs(self.accuracy[seen] - self.confidence[seen])))


def reliability_diagram(probs: Any, y: Any, *, bins: int = 10) -> Reliability:
    """Bin the predictions by confidence (equal-width bins on [0, 1]); empty bins hold NaN."""
    p, y = _py(probs, y)
    bins = check_int(bins, "bins", min=1)
    conf, right = p.max(axis=1), p.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=bins) / counts
        acc = np.bincount(which, weights=right, minlength=bins) / counts
    return Reliability(edges, mean_conf, acc, counts)


def expected_calibration_error(probs: Any, y: Any, *, bins: int = 10) -> float:
    """ECE (Guo et al. 2017): ``sum_b |B_b|/n * |acc(B_b) - conf(B_b)|``."""
    return reliability_diagram(probs, y, bins=bins).ece


def abstain(probs: Any, *, threshold: float) -> np.ndarray:
    """Predicted labels, or -1 where the top probability is below ``threshold`` (abstain)."""
    p = _probs(probs)
    threshold = check_float(threshold, "threshold", min=0.0, max=1.0)
    return np.where(p.max(axis=1) >= threshold, p.argmax(axis=1), -1)


@dataclass(frozen=True)
class RiskCoverage:
    """The coverage-against-risk curve: answering the ``k`` most confident inputs, k = 1..n.

    ``coverage[k-1] = k / n``, ``risk[k-1]`` the error rate among them, and
    ``threshold[k-1]`` the confidence of the k-th (the threshold that answers them).
    """

    coverage: np.ndarray
    risk: np.ndarray
    threshold: np.ndarray


def risk_coverage(probs: Any, y: Any) -> RiskCoverage:
    """Sort by confidence (most confident first) and accumulate the errors."""
    p, y = _py(probs, y)
    conf = p.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    wrong = (p.argmax(axis=1) != y)[order]
    k = np.arange(1, len(y) + 1)
    return RiskCoverage(k / len(y), np.cumsum(wrong) / k, conf[order])


def threshold_for_coverage(probs: Any, coverage: float) -> float:
    """The confidence threshold that answers (at least) a share ``coverage`` of the inputs."""
    p = _probs(probs)
    coverage = check_float(coverage, "coverage", min=0.0, max=1.0, min_open=True)
    conf = np.sort(p.max(axis=1))[::-1]
    k = int(np.ceil(coverage * len(conf)))
    return float(conf[k - 1])


def error_at_coverage(probs: Any, y: Any, coverage: float) -> float:
    """Error rate among the ``ceil(coverage * n)`` most confident inputs."""
    curve = risk_coverage(probs, y)
    coverage = check_float(coverage, "coverage", min=0.0, max=1.0, min_open=True)
    k = int(np.ceil(coverage * len(curve.risk)))
    return float(curve.risk[k - 1])


def best_error_at_coverage(error: float, coverage: float) -> float:
    """The least error any threshold can leave at ``coverage``: ``max(0, error - (1 - c)) / c``.

    A classifier with error rate ``error`` that refuses exactly its wrong answers
    first still answers ``error - (1 - c)`` wrongly among the ``c`` it keeps.
    So refusing 5% can remove at most 5 points of error, and halving the error at
    95% coverage needs ``error <= 0.05 / 0.525``, about 9.5%.
    """
    error = check_float(error, "error", min=0.0, max=1.0)
    coverage = check_float(coverage, "coverage", min=0.0, max=1.0, min_open=True)
    return max(0.0, error - (1.0 - coverage)) / coverage


def plot_calibration(curves: Any, y: Any, *, coverage: float = 0.95, bound: str | None = None):
    """Reliability diagrams and coverage-against-risk curves, side by side: the ``Figure``.

    ``curves`` maps a name ("clean", "fog 3") to softmax probabilities for the
    labels ``y``; ``bound`` names the one whose best possible curve
    (:func:`best_error_at_coverage`) is drawn dashed, and a dotted line marks
    ``coverage``.  The titles say "synthetic signs" (chapter 09's data).
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, dict) or not curves:
        raise TypeError(
            f"curves must be a non-empty dict name -> probabilities, got {curves!r:.40}"
        )
    coverage = check_float(coverage, "coverage", min=0.0, max=1.0, min_open=True)
    if bound is not None and bound not in curves:
        raise ValueError(f"bound must be one of {sorted(curves)} or None, got {bound!r}")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, p in curves.items():
        d = reliability_diagram(p, y, bins=10)
        a.plot(d.confidence, d.accuracy, marker="o", label=f"{name}: ECE {d.ece:.3f}")
        curve = risk_coverage(p, y)
        b.plot(curve.coverage, curve.risk, label=name)
    a.plot([0, 1], [0, 1], "k:")
    a.set(xlabel="confidence", ylabel="accuracy", title="Reliability (synthetic signs)")
    if bound is not None:
        err = error_at_coverage(curves[bound], y, 1.0)
        cov = np.linspace(0.5, 1.0, 101)
        best = [best_error_at_coverage(err, c) for c in cov]
        b.plot(cov, best, "k--", lw=1, label=f"{bound}, best possible")
    b.axvline(coverage, color="grey", ls=":")
    b.set(xlabel="coverage", ylabel="risk (error among answered)")
    b.set_title("Coverage against risk (synthetic signs)")
    for ax in (a, b):
        ax.legend(fontsize=8)
    return fig


def vote(probs: Any, *, method: str = "mean") -> tuple[int, float]:
    """One decision from the frames of one sign: ``(label, confidence)``.

    ``probs`` is ``(frames, classes)``.  ``"mean"`` averages the probabilities;
    ``"majority"`` counts each frame's top label (ties go to the lower label)
    and reports the share of frames that agree.
    """
    p = _probs(probs)
    method = check_choice(method, "method", ("mean", "majority"))
    if method == "mean":
        m = p.mean(axis=0)
        return int(m.argmax()), float(m.max())
    counts = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
    return int(counts.argmax()), float(counts.max() / len(p))
