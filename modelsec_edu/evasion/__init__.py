"""Evasion: adversarial examples and the defences against them (chapters 03 and 06).

The article's third threat, "backpropagation attacks", in working form, with
the evaluation that keeps defences honest and the training that buys
robustness.  Every attack takes a Keras model that outputs logits and NumPy
arrays, works in batches, is seeded where it is random, checks its input, and
returns float32 adversarial inputs of the input's shape.  ``clip`` may hold
per-feature bounds and ``mask`` marks the features an attacker may change
(tabular data).  With ``targeted=True``, ``y`` holds the targets.

Attacks (chapter 03):

* :mod:`.gradient` -- white-box, budget eps: FGSM, BIM and PGD (L-inf, L2);
  :func:`pgd_tensor` runs the loop inside compiled code (adversarial training).
* :mod:`.minimum_norm` -- DeepFool, the smallest change that flips the label.
* :mod:`.score_based` -- Square Attack, from the model's scores alone.
* :mod:`.norms` -- the norm-specific step, projection and random start.

Evaluation (chapters 03 and 06): :mod:`.evaluation` (robust accuracy, success
rates, security curves, the gradient-masking checklist) and :mod:`.masking`
(a broken "defence" and BPDA), :mod:`.apgd` (Auto-PGD: APGD-CE, APGD-DLR,
APGD-T) and :mod:`.worst_case` (the per-input worst case over APGD-CE,
APGD-T and Square, after AutoAttack).

Tabular evasion (chapter 08): :mod:`.constrained` (plausible adversarial rows
under a :class:`~modelsec_edu.data.TabularSpec`: one-hot, integer, bounds,
immutables, a cost-weighted norm; validity counts; adversarial training).

Defences (chapter 06): :mod:`.training` (FGSM-RS, N-FGSM, PGD-AT, TRADES, and
the article's GAN method), :mod:`.gan` (DCGAN, conditional GAN) and
:mod:`.advgan` (a generator of adversarial examples, and training against it).
"""

from . import advgan, consistency, gan, patches, physical
from ._checks import NORMS, num_classes
from .apgd import APGD_LOSSES, apgd, apgd_t, dlr_loss
from .article import article_gan_training
from .constrained import (
    ConstrainedResult,
    constrained_adversarial_training,
    constrained_attack,
    validity,
)
from .evaluation import (
    accuracy_from_norms,
    attack_success_rate,
    norm_stats,
    robust_accuracy,
    security_curve,
    standard_attacks,
)
from .gradient import fgsm, pgd, pgd_tensor
from .masking import Check, Checklist, Quantize, bpda, masking_checklist, quantized
from .minimum_norm import deepfool
from .norms import perturbation_norms, random_start
from .physical import sticker_attack
from .robust_eval import RobustTable, evaluate_models, robustness
from .score_based import square_attack
from .training import METHODS, accelerator, adversarial_fit, epoch_seconds
from .worst_case import WorstCase, worst_case

__all__ = [
    "consistency",
    "patches",
    "physical",
    "sticker_attack",
    "APGD_LOSSES",
    "WorstCase",
    "apgd",
    "apgd_t",
    "dlr_loss",
    "worst_case",
    "METHODS",
    "NORMS",
    "Check",
    "Checklist",
    "ConstrainedResult",
    "constrained_adversarial_training",
    "constrained_attack",
    "validity",
    "Quantize",
    "accelerator",
    "accuracy_from_norms",
    "adversarial_fit",
    "epoch_seconds",
    "advgan",
    "article_gan_training",
    "attack_success_rate",
    "bpda",
    "deepfool",
    "fgsm",
    "gan",
    "masking_checklist",
    "norm_stats",
    "num_classes",
    "perturbation_norms",
    "pgd",
    "pgd_tensor",
    "quantized",
    "random_start",
    "robust_accuracy",
    "RobustTable",
    "evaluate_models",
    "robustness",
    "security_curve",
    "square_attack",
    "standard_attacks",
]
