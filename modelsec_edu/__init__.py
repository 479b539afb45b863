"""modelsec_edu: the helper library of the modelsec-edu course.

Importing the package does no work: it loads no data, trains nothing, picks no
backend and changes no global state.  Import the topic you need::

    from modelsec_edu import data, evasion, models, runtime

One topic per module:

=================== =====================================================================
foundations         ``runtime`` (quick mode, seeds, environment report), ``data`` (offline-
                    first MNIST), ``models`` (the article's MLP and a CNN, logits out),
                    ``loss`` (the article's formula), ``exercises`` (end-of-chapter checks)
backend             ``gradients``: the one backend-specific module (TensorFlow, JAX, torch)
evasion (ch. 03)    ``attacks`` (FGSM/BIM/PGD, DeepFool, Square Attack), ``evaluation``
                    (robust accuracy, curves, gradient-masking checklist), ``masking``
poisoning (ch. 04)  ``poisoning`` (label flips, BadNets, clean-label), ``poison_detection``
                    (spectral signatures, activation clustering), ``provenance``
tampering (ch. 05)  ``tampering`` (noise, pruning, quantisation, trojans), ``bitflip``
                    (random flips, Bit-Flip Attack), ``integrity`` (SHA-256 manifests, HMAC),
                    ``signing`` (OpenSSF model-signing, optional), ``safe_loading``
training (ch. 06)   ``defenses`` (adversarial training: FGSM-RS, PGD-AT, TRADES; the
                    article's GAN method), ``gan`` (DCGAN, conditional GAN), ``advgan``,
                    ``zoo`` (verified cache of trained models)
display             ``plots`` (matplotlib), ``widgets`` (ipywidgets factories per chapter)
=================== =====================================================================
"""

__version__ = "0.1.0"

# Before anything imports TensorFlow: keep its C++ start-up banner out of the notebooks.
from modelsec_edu import runtime as _runtime  # noqa: E402, F401

__all__ = ["__version__"]
