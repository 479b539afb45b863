"""Model tampering: the attacker changes the weights.

Threat model: the attacker can write to the model file or to memory holding
the weights (a compromised model hub, a supply chain, a fault attack) but not
to the training data.  Every function returns a **new** model; the caller's
model is never changed.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["clone", "noisy_weights", "perturb_weights"]


def clone(model: keras.Model) -> keras.Model:
    """A new model with the same architecture and a copy of the weights."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    copy = keras.models.clone_model(model)
    copy.set_weights([np.array(w, copy=True) for w in model.get_weights()])
    return copy


def noisy_weights(
    weights: list[np.ndarray], *, scale: float, seed: int | None = None, relative: bool = True
) -> list[np.ndarray]:
    """Add Gaussian noise to a list of weight arrays (a pure function on arrays).

    With ``relative=True`` the noise of each array has standard deviation
    ``scale * std(array)``, so one ``scale`` means the same for every layer.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating, np.integer)):
        raise TypeError(f"scale must be a number, got {type(scale).__name__}")
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be finite and >= 0, got {scale}")
    rng = np.random.default_rng(seed)
    out = []
    for w in weights:
        w = np.asarray(w)
        sd = scale * (float(w.std()) if relative else 1.0)
        out.append((w + rng.normal(0.0, sd, size=w.shape)).astype(w.dtype) if sd > 0 else w.copy())
    return out


def perturb_weights(
    model: keras.Model, *, scale: float, seed: int | None = None, relative: bool = True
) -> keras.Model:
    """A copy of ``model`` whose weights carry Gaussian noise (see :func:`noisy_weights`)."""
    new = clone(model)
    new.set_weights(noisy_weights(model.get_weights(), scale=scale, seed=seed, relative=relative))
    return new
