"""Why some model files are code, and what Keras' ``safe_mode`` refuses.

Threat model: the attacker publishes a model file (a model hub, an e-mail
attachment, a pull request) and waits for someone to load it.  If loading
runs code from the file, loading is running the attacker's program.

* A **pickle** is a small program for a stack machine; its ``REDUCE`` opcode
  calls any importable function with any arguments.  ``torch.load`` (before
  ``weights_only``), ``joblib`` and ``pickle.load`` all run it.
* Keras' ``Lambda`` layer stores a Python ``lambda`` as *marshalled bytecode*
  inside ``config.json`` (``.keras``) or the HDF5 attributes (legacy ``.h5``).
  Loading it rebuilds and runs that bytecode.  ``safe_mode=True`` (the
  default since Keras 2.13) refuses to deserialise it.

The demos here use a harmless payload that only prints a message.
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

__all__ = [
    "MIN_KERAS",
    "PAYLOAD",
    "check_keras",
    "lambda_code",
    "lambda_model",
    "pickle_opcodes",
    "pickle_payload",
    "try_load",
]

PAYLOAD = "PAYLOAD RAN: this message was printed by code stored in the file"
MIN_KERAS = (3, 13, 2)


class _PrintOnLoad:
    """An object whose pickle, when loaded, calls ``print(message)``."""

    def __init__(self, message: str):
        self.message = message

    def __reduce__(self):
        return (print, (self.message,))


def pickle_payload(message: str = PAYLOAD) -> bytes:
    """Pickled bytes that print ``message`` when unpickled: ``pickle.loads`` runs code."""
    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    return pickle.dumps(_PrintOnLoad(message))


def pickle_opcodes(data: bytes) -> str:
    """The disassembly of a pickle: look for ``STACK_GLOBAL`` (import) and ``REDUCE`` (call)."""
    import io

    out = io.StringIO()
    pickletools.dis(data, out=out)
    return out.getvalue()


def lambda_model(message: str = PAYLOAD):
    """A tiny model with a ``Lambda`` layer whose lambda prints ``message`` each time it runs.

    Building the model runs the lambda once (Keras traces it), so the message
    prints here too.
    """
    import keras

    if not isinstance(message, str):
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    text = str(message)
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Lambda(lambda x: [print(text), x][1], name="payload"),
            keras.layers.Dense(2),
        ],
        name="lambda_demo",
    )


def lambda_code(path: str | os.PathLike) -> list[str]:
    """The base64 bytecode of every ``lambda`` stored in a ``.keras`` file's ``config.json``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("class_name") == "__lambda__":
                found.append(str(node.get("config", {}).get("code", "")))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    return found


def try_load(path: str | os.PathLike, *, safe_mode: bool = True) -> tuple[bool, str]:
    """Try ``keras.saving.load_model(path, safe_mode=...)``; return ``(loaded, what happened)``.

    A refusal (the ``ValueError`` safe mode raises) is reported, not raised.
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such model file: {path}")
    try:
        keras.saving.load_model(path, safe_mode=safe_mode)
    except ValueError as exc:
        return False, f"refused: {exc}"
    return True, "loaded"


def check_keras(installed: str | None = None) -> tuple[bool, str]:
    """Is the installed Keras at least 3.13.2, the first release with every safe-mode fix the course knows of?"""
    from packaging.version import Version  # a dependency of matplotlib

    installed = installed or version("keras")
    need = ".".join(map(str, MIN_KERAS))
    ok = Version(installed) >= Version(need)
    return ok, f"keras {installed}: " + ("OK" if ok else f"too old, upgrade to >= {need}")
