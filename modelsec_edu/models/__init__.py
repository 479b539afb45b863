"""Networks and how they are trained (rank 3: above backend and data, below every threat).

* :mod:`.classifiers` -- the article's 784-64-64-10 MLP and a small CNN (both
  output logits), compiling, the plain training loop with its progress bar,
  predictions and accuracy;
* :mod:`.loss` -- chapter 02: the article's formula L = 1/N sum l(f(x_i), y_i)
  by hand, and the loss along a direction.
"""

from . import loss
from .classifiers import (
    RECIPES,
    accuracy,
    article_mlp,
    compile_classifier,
    fit,
    predict_labels,
    predict_logits,
    predict_proba,
    small_cnn,
)

__all__ = [
    "RECIPES",
    "accuracy",
    "article_mlp",
    "compile_classifier",
    "fit",
    "loss",
    "predict_labels",
    "predict_logits",
    "predict_proba",
    "small_cnn",
]
