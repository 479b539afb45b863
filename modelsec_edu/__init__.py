"""modelsec_edu: the helper library of the modelsec-edu course.

Importing the package does no work: it loads no data, trains nothing, picks no
backend and changes no global state.  Import the topic you need::

    from modelsec_edu import attacks, data, models, runtime

One module per topic:

* ``runtime``   quick mode, seeds, environment report
* ``data``      offline-first MNIST loader
* ``models``    the article's 784-64-64-10 network and a small CNN (logits out)
* ``gradients`` the one backend-specific module (TensorFlow, JAX, PyTorch)
* ``attacks``   evasion attacks (FGSM, PGD)
* ``poisoning`` training-data attacks (label flipping)
* ``tampering`` weight attacks (noise)
* ``plots``     matplotlib helpers
* ``widgets``   ipywidgets factories
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
