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
from typing import Any

from modelsec_edu.validation import check_bool, check_path

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

    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be the bytes of a pickle, got {type(data).__name__}")
    out = io.StringIO()
    try:
        pickletools.dis(data, out=out)
    except (ValueError, EOFError, IndexError, KeyError) as exc:  # truncated or not a pickle at all
        raise ValueError(f"data is not a complete pickle: {exc}") from None
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
    path = check_path(path, "path", exists=True)
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path} is not a readable .keras file ({type(exc).__name__}: {exc})"
        ) from None
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

    path = check_path(path, "path", exists=True)
    safe_mode = check_bool(safe_mode, "safe_mode")
    try:
        keras.saving.load_model(path, safe_mode=safe_mode)
    except ValueError as exc:
        return False, f"refused: {exc}"
    return True, "loaded"


def check_keras(installed: str | None = None) -> tuple[bool, str]:
    """Is the installed Keras at least 3.13.2 (the first with all safe-mode fixes known here)?"""
    from packaging.version import Version  # a dependency of matplotlib

    if installed is not None and not isinstance(installed, str):
        raise TypeError(
            f"installed must be a version string such as '3.13.2' or None, got {installed!r}"
        )
    installed = installed or version("keras")
    need = ".".join(map(str, MIN_KERAS))
    ok = Version(installed) >= Version(need)
    return ok, f"keras {installed}: " + ("OK" if ok else f"too old, upgrade to >= {need}")
