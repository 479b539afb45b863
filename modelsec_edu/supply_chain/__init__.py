"""The supply chain of a model file: integrity, signatures, safe loading (chapter 05).

Threat model: the attacker can replace or alter a model file between the
people who trained it and the people who load it.

* :mod:`.integrity` -- SHA-256 manifests checked before every ``safe_mode``
  load, HMAC-SHA256 signatures;
* :mod:`.signing` -- OpenSSF model-signing (optional extra);
* :mod:`.safe_loading` -- why pickle and ``Lambda`` layers are code.

The three submodules share names (``verify``), so use them by module::

    from modelsec_edu.supply_chain import integrity
"""

from . import integrity, safe_loading, signing
from .integrity import IntegrityError

__all__ = ["IntegrityError", "integrity", "safe_loading", "signing"]
