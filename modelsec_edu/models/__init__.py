"""Networks and how they are trained (rank 3: above backend and data, below every threat).

* :mod:`.classifiers` -- the article's 784-64-64-10 MLP and a small CNN (both
  output logits), compiling, the plain training loop with its progress bar,
  predictions and accuracy;
* :mod:`.loop` -- the one epoch loop and progress bar every trainer uses;
* :mod:`.recipes` -- the one table of training settings (``RECIPES``,
  ``adversarial_defaults``) and PGD's step-size rule;
* :mod:`.loss` -- chapter 02: the article's formula L = 1/N sum l(f(x_i), y_i)
  by hand, and the loss along a direction.
"""

from . import loop, loss, recipes
from .classifiers import (
    accuracy,
    article_mlp,
    compile_classifier,
    fit,
    predict_labels,
    predict_logits,
    predict_proba,
    small_cnn,
)
from .recipes import RECIPES, default_step_size, recipe

__all__ = [
    "RECIPES",
    "accuracy",
    "article_mlp",
    "compile_classifier",
    "fit",
    "default_step_size",
    "loop",
    "loss",
    "recipe",
    "recipes",
    "predict_labels",
    "predict_logits",
    "predict_proba",
    "small_cnn",
]
