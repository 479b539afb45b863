"""Evasion attacks: adversarial examples computed from a model's outputs or gradients.

The article's third threat, "backpropagation attacks", in working form.  Every
attack takes a Keras model that outputs logits, NumPy arrays (or backend
tensors), works in batches, is seeded, checks its input, and returns float32
NumPy adversarial inputs of the input's shape.  ``clip`` may be per-feature
bounds and ``mask`` marks the features an attacker may change (tabular data).

* :mod:`.gradient` -- FGSM, BIM and PGD (L-inf, L2), one compiled loop;
  :func:`pgd_tensor` runs it inside compiled code (adversarial training).
* :mod:`.norms` -- the norm-specific step, projection and random start.
"""

from ._checks import NORMS, num_classes
from .gradient import fgsm, pgd, pgd_tensor
from .norms import perturbation_norms

__all__ = ["NORMS", "fgsm", "num_classes", "perturbation_norms", "pgd", "pgd_tensor"]
