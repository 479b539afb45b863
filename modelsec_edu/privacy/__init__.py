"""Privacy: what a trained model gives away about its training data, and DP-SGD (chapter 07).

A hospital's diagnostic model is trained on patients' records.  This package
measures how much those records leak through the model, and trains models
whose leak is bounded by a proof.

Attacks:

* :mod:`.membership` -- membership inference: loss threshold (Yeom et al.
  2018), shadow models (Shokri et al. 2017) and LiRA (Carlini et al. 2022),
  behind one call, :func:`membership_inference`;
* :mod:`.metrics` -- AUC, membership advantage, TPR at low FPR with bootstrap
  intervals;
* :mod:`.shadow` -- the shadow models both learned attacks train;
* :mod:`.outputs` -- what the model releases: scores, rounded scores, a label.

Accounting: :mod:`.accountant` -- Rényi DP of the sampled Gaussian mechanism
(Mironov et al. 2019) and :func:`dp_epsilon`, tested against TF Privacy's table.

Models: :mod:`.training` (small tabular networks and a fast compiled trainer,
with weight decay and early stopping as cheap mitigations); :mod:`.dpsgd`
(DP-SGD) and :mod:`.features` (fixed scattering features, so that DP-SGD
trains a linear head; Tramèr & Boneh 2021).

Chapter 07's measurements: :mod:`.attribute` (attribute inference and its
baselines) and :mod:`.experiments` (leak against gap, the mitigation table,
the DP sweep the noise widget shows).
"""

from . import (
    accountant,
    attribute,
    dpsgd,
    experiments,
    features,
    membership,
    metrics,
    outputs,
    shadow,
    training,
)
from .accountant import dp_epsilon, noise_for_epsilon, rdp_sampled_gaussian, rdp_to_epsilon
from .membership import (
    METHODS,
    RELEASES,
    log_probs,
    loss_scores,
    membership_inference,
    per_example_loss,
)
from .metrics import MembershipResult, advantage, auc, roc_curve, tpr_at_fpr
from .training import fit_steps, tabular_mlp, trainer

__all__ = [
    "accountant",
    "attribute",
    "dpsgd",
    "experiments",
    "features",
    "dp_epsilon",
    "noise_for_epsilon",
    "rdp_sampled_gaussian",
    "rdp_to_epsilon",
    "METHODS",
    "RELEASES",
    "MembershipResult",
    "advantage",
    "auc",
    "fit_steps",
    "log_probs",
    "loss_scores",
    "membership",
    "membership_inference",
    "metrics",
    "outputs",
    "per_example_loss",
    "roc_curve",
    "shadow",
    "tabular_mlp",
    "training",
    "tpr_at_fpr",
    "trainer",
]
