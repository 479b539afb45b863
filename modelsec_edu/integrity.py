"""Integrity of model files: SHA-256 manifests, checked before every load.

Threat model: an attacker who can write to the file (a shared drive, a model
hub, a supply chain) swaps or flips bits in it.  A manifest records each
file's SHA-256; :func:`load_model` refuses any file whose digest differs, then
loads it with Keras' ``safe_mode=True`` (no deserialised code).

A manifest is a small JSON file beside the models::

    {"algorithm": "sha256", "files": {"cnn.keras": "9f2c..."}}

A manifest proves a file is unchanged since it was recorded, not who recorded
it: whoever can rewrite the model can rewrite a manifest stored beside it.
Chapter 05 adds keyed signatures for that.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "IntegrityError",
    "load_model",
    "read_manifest",
    "record",
    "save_model",
    "sha256_file",
    "verify",
]

ALGORITHM = "sha256"


class IntegrityError(ValueError):
    """A file's digest does not match its manifest, or the file is not listed."""


def sha256_file(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(manifest: str | os.PathLike) -> dict[str, str]:
    """The ``{file name: digest}`` table of a manifest (empty if the manifest does not exist)."""
    manifest = Path(manifest)
    if not manifest.exists():
        return {}
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"manifest {manifest} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("algorithm") != ALGORITHM or not isinstance(doc.get("files"), dict):
        raise IntegrityError(f"manifest {manifest} is not a {ALGORITHM} manifest of this package")
    return dict(doc["files"])


def _key(path: Path, manifest: Path) -> str:
    try:
        return path.resolve().relative_to(manifest.resolve().parent).as_posix()
    except ValueError:
        return str(path.resolve())


def record(path: str | os.PathLike, manifest: str | os.PathLike, *, replace: bool = False) -> str:
    """Add a file's digest to a manifest (created if missing); returns the digest.

    Refuses to change an existing entry unless ``replace=True``: re-recording a
    file silently would bless whatever is in it now.
    """
    path, manifest = Path(path), Path(manifest)
    digest = sha256_file(path)
    files = read_manifest(manifest)
    key = _key(path, manifest)
    if key in files and files[key] != digest and not replace:
        raise IntegrityError(
            f"{key} is already in {manifest} with another digest; pass replace=True to record the new file"
        )
    files[key] = digest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_suffix(manifest.suffix + ".tmp")
    tmp.write_text(json.dumps({"algorithm": ALGORITHM, "files": files}, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, manifest)  # atomic: a crash never leaves half a manifest
    return digest


def verify(path: str | os.PathLike, manifest: str | os.PathLike) -> str:
    """Check a file against its manifest entry; return the digest or raise :class:`IntegrityError`."""
    path, manifest = Path(path), Path(manifest)
    files = read_manifest(manifest)
    key = _key(path, manifest)
    if key not in files:
        raise IntegrityError(f"{key} is not listed in the manifest {manifest}: refusing to trust it")
    digest = sha256_file(path)
    if digest != files[key]:
        raise IntegrityError(
            f"{path} does not match its manifest: SHA-256 is {digest[:16]}..., "
            f"expected {files[key][:16]}... The file was changed after it was recorded; do not load it."
        )
    return digest


def save_model(model: Any, path: str | os.PathLike, manifest: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Save a Keras model in the ``.keras`` format and record its digest; returns the digest.

    Never overwrites an existing file unless ``overwrite=True``.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save models in the .keras format, got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return record(path, manifest, replace=overwrite)


def load_model(path: str | os.PathLike, manifest: str | os.PathLike, **kwargs: Any):
    """Verify a ``.keras`` file against its manifest, then load it with ``safe_mode=True``.

    Raises :class:`IntegrityError` for a changed or unlisted file and
    ``FileNotFoundError`` for a missing one; nothing is deserialised before
    the digest matches.
    """
    import keras

    if kwargs.get("safe_mode", True) is not True:
        raise ValueError("load_model always uses safe_mode=True; unsafe loading runs code from the file")
    kwargs.pop("safe_mode", None)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such model file: {path}")
    verify(path, manifest)
    return keras.saving.load_model(path, safe_mode=True, **kwargs)
