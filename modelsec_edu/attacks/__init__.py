"""Evasion attacks: adversarial examples computed from a model's gradients or outputs.

The article's third threat, "backpropagation attacks", in working form.  Every
attack takes a Keras model that outputs logits and NumPy arrays (or backend
tensors), works in batches, is seeded where it is random, checks its input,
and returns float32 NumPy adversarial inputs of the input's shape.  ``clip``
may hold per-feature bounds and ``mask`` marks the features an attacker may
change (tabular data).  With ``targeted=True``, ``y`` holds the targets.

* :mod:`.gradient` -- white-box, budget eps: FGSM, BIM and PGD (L-inf, L2) in
  one compiled loop; :func:`pgd_tensor` runs that loop inside compiled code.
* :mod:`.minimum_norm` -- white-box, no budget: DeepFool, the smallest change
  that flips the label.
* :mod:`.score_based` -- black-box, budget eps: Square Attack, from the
  model's scores alone.
* :mod:`.norms` -- the norm-specific step, projection and random start.
"""

from ._checks import NORMS, num_classes
from .gradient import fgsm, pgd, pgd_tensor
from .minimum_norm import deepfool
from .norms import perturbation_norms, random_start
from .score_based import square_attack

__all__ = [
    "NORMS",
    "deepfool",
    "fgsm",
    "num_classes",
    "perturbation_norms",
    "pgd",
    "pgd_tensor",
    "random_start",
    "square_attack",
]
