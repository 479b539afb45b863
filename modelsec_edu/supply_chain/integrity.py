"""Integrity of model files: SHA-256 manifests, checked before every load.

Threat model: an attacker who can write to the file (a shared drive, a model
hub, a supply chain) swaps or flips bits in it.  A manifest records each
file's SHA-256; :func:`load_model` refuses any file whose digest differs, then
loads it with Keras' ``safe_mode=True`` (no deserialised code).

A manifest is a small JSON file beside the models::

    {"algorithm": "sha256", "files": {"cnn.keras": "9f2c..."}}

A manifest proves a file is unchanged since it was recorded, not who recorded
it: whoever can rewrite the model can rewrite a manifest stored beside it.
Keyed signatures close that gap: :func:`sign_file` and
:func:`verify_signature` bind a file's digest to a secret key with HMAC-SHA256
(standard library only).  HMAC is *symmetric*: whoever can verify can also
sign, so the key must stay with the people who publish the models.  Public-key
signatures, where verifiers hold only a public key, are in :mod:`.signing`
(OpenSSF ``model-signing``, an optional extra).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:  # POSIX: an advisory lock keeps two processes from updating one manifest at once
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer at a time is the user's to keep
    fcntl = None

from modelsec_edu.validation import check_bool, check_int, check_model, check_new_path, check_path

__all__ = [
    "IntegrityError",
    "flip_file_bit",
    "generate_key",
    "load_model",
    "read_manifest",
    "record",
    "save_model",
    "sha256_file",
    "sign_file",
    "verify",
    "verify_signature",
]

ALGORITHM = "sha256"


class IntegrityError(ValueError):
    """A file's digest does not match its manifest, or the file is not listed."""


def sha256_file(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks of ``chunk_size`` bytes (>= 1)."""
    path = check_path(path, "path", exists=True)
    chunk_size = check_int(chunk_size, "chunk_size", min=1)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(manifest: str | os.PathLike) -> dict[str, str]:
    """The ``{file name: digest}`` table of a manifest (empty if the manifest does not exist)."""
    manifest = check_path(manifest, "manifest")
    if not manifest.exists():
        return {}
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"manifest {manifest} is not valid JSON: {exc}") from exc
    files = doc.get("files") if isinstance(doc, dict) else None
    if (
        not isinstance(doc, dict)
        or doc.get("algorithm") != ALGORITHM
        or not isinstance(files, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise IntegrityError(f"manifest {manifest} is not a {ALGORITHM} manifest of this package")
    return dict(files)


def _key(path: Path, manifest: Path) -> str:
    """The manifest's key for ``path``: the path **as given**, relative to the manifest's folder.

    Links are not followed (``os.path.abspath``, not ``resolve``): a recorded
    ``a.keras`` replaced by a link to another recorded file is still checked
    against ``a.keras``'s own digest, and refused.
    """
    where, base = os.path.abspath(path), os.path.dirname(os.path.abspath(manifest))
    rel = os.path.relpath(where, base)
    return Path(where).as_posix() if rel.startswith("..") else Path(rel).as_posix()


def record(path: str | os.PathLike, manifest: str | os.PathLike, *, replace: bool = False) -> str:
    """Add a file's digest to a manifest (created if missing); returns the digest.

    Refuses to change an existing entry unless ``replace=True`` (a real
    ``bool``: the string ``"False"`` is refused, not read as true): re-recording
    a file silently would bless whatever is in it now.
    """
    path = check_path(path, "path", exists=True)
    replace = check_bool(replace, "replace")
    manifest = check_path(manifest, "manifest")
    if manifest.exists() and os.path.samefile(manifest, path):
        raise ValueError(
            f"manifest must differ from the recorded file {str(path)!r}: it would overwrite it"
        )
    digest = sha256_file(path)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with _locked(manifest):
        return _update(manifest, _key(path, manifest), digest, replace)


@contextmanager
def _locked(manifest: Path) -> Iterator[None]:
    """Hold ``manifest``'s lock file while it is read, changed and replaced.

    Two notebooks sharing one model cache (two chapters open at once, or CI's
    parallel runs) would otherwise each read the manifest, add their entry and
    write it back, and the second write would drop the first entry.
    """
    if fcntl is None:
        yield
        return
    with open(manifest.with_name(manifest.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _update(manifest: Path, key: str, digest: str, replace: bool) -> str:
    files = read_manifest(manifest)
    if key in files and files[key] != digest and not replace:
        raise IntegrityError(
            f"{key} is already in {manifest} with another digest; pass replace=True to record the "
            "new file"
        )
    files[key] = digest
    # a temporary file of this writer's own, then an atomic rename: a crash never leaves half a
    # manifest, and no other writer's temporary file is touched
    fd, tmp = tempfile.mkstemp(dir=manifest.parent, prefix=manifest.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps({"algorithm": ALGORITHM, "files": files}, indent=2, sort_keys=True))
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would make a shared cache's manifest private
    os.replace(tmp, manifest)
    return digest


def verify(path: str | os.PathLike, manifest: str | os.PathLike) -> str:
    """Check a file against its manifest entry; its digest, else :class:`IntegrityError`."""
    path = check_path(path, "path")
    files = read_manifest(manifest)
    key = _key(path, Path(manifest))
    if key not in files:
        raise IntegrityError(
            f"{key} is not listed in the manifest {manifest}: refusing to trust it"
        )
    digest = sha256_file(path)
    if digest != files[key]:
        raise IntegrityError(
            f"{path} does not match its manifest: SHA-256 is {digest[:16]}..., "
            f"expected {files[key][:16]}... The file was changed after it was recorded; do not "
            "load it."
        )
    return digest


def save_model(
    model: Any, path: str | os.PathLike, manifest: str | os.PathLike, *, overwrite: bool = False
) -> str:
    """Save a Keras model in the ``.keras`` format and record its digest; returns the digest.

    Never overwrites an existing file unless ``overwrite=True`` (a real ``bool``),
    and never writes the model over its own manifest.
    """
    check_model(model)
    path = check_new_path(
        path, "path", overwrite=overwrite, sources=[check_path(manifest, "manifest")]
    )
    if path.suffix != ".keras":
        raise ValueError(
            f"path must name a .keras file (save models in the .keras format), got {path.name!r}"
        )
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
        raise ValueError(
            "safe_mode must be True: load_model never loads unsafely (that runs code from the file)"
        )
    kwargs.pop("safe_mode", None)
    path = check_path(path, "path", exists=True)
    verify(path, manifest)
    return keras.saving.load_model(path, safe_mode=True, **kwargs)


# -------------------------------------------------------------------------- keyed signatures (HMAC)

HMAC_ALGORITHM = "hmac-sha256"


def generate_key() -> bytes:
    """A fresh random 256-bit key for :func:`sign_file` (keep it secret, never beside models)."""
    return secrets.token_bytes(32)


def _check_key(key: Any) -> bytes:
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key must be bytes (see generate_key), got {type(key).__name__}")
    if len(key) < 16:
        raise ValueError(f"key must be at least 16 bytes long, got {len(key)}")
    return bytes(key)


def _signature_path(path: Path, signature: str | os.PathLike | None) -> Path:
    return (
        check_path(signature, "signature")
        if signature is not None
        else path.with_name(path.name + ".sig")
    )


def _mac(key: bytes, name: str, digest: str) -> str:
    return hmac.new(key, f"{HMAC_ALGORITHM}\n{name}\n{digest}".encode(), hashlib.sha256).hexdigest()


def sign_file(
    path: str | os.PathLike,
    key: bytes,
    *,
    signature: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Sign a file with a secret key: write ``<file>.sig`` holding HMAC-SHA256(key, name + SHA-256).

    The signature binds the file's name and content; returns its path.  It is
    never written over the signed file itself, nor over an existing file
    unless ``overwrite=True``.
    """
    key = _check_key(key)
    path = check_path(path, "path", exists=True)
    digest = sha256_file(path)
    sig = check_new_path(
        _signature_path(path, signature), "signature", overwrite=overwrite, sources=[path]
    )
    doc = {
        "algorithm": HMAC_ALGORITHM,
        "file": path.name,
        "sha256": digest,
        "mac": _mac(key, path.name, digest),
    }
    sig.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return sig


def verify_signature(
    path: str | os.PathLike, key: bytes, *, signature: str | os.PathLike | None = None
) -> str:
    """Check a file against its HMAC signature; return the digest or raise :class:`IntegrityError`.

    Fails when the file changed, when the signature was made with another key
    or for another file, and when the signature file is missing or malformed.
    """
    key = _check_key(key)
    path = check_path(path, "path", exists=True)
    sig = _signature_path(path, signature)
    if not sig.is_file():
        raise IntegrityError(f"no signature {sig} for {path.name}: refusing to trust it")
    try:
        doc = json.loads(sig.read_text(encoding="utf-8"))
        claimed = str(doc["mac"])
        ok_format = doc.get("algorithm") == HMAC_ALGORITHM
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(f"signature {sig} is malformed: {exc}") from exc
    if not ok_format:
        raise IntegrityError(f"signature {sig} is not an {HMAC_ALGORITHM} signature")
    digest = sha256_file(path)
    if not hmac.compare_digest(_mac(key, path.name, digest), claimed):
        raise IntegrityError(
            f"{path.name} does not match its signature: the file changed, or it was signed with "
            "another key"
        )
    return digest


# --------------------------------------------------------------------------- tampering with a file


def flip_file_bit(
    src: str | os.PathLike, dst: str | os.PathLike, *, bit: int, overwrite: bool = False
) -> Path:
    """Copy a file to ``dst`` with one bit inverted: bit ``bit % 8`` of byte ``bit // 8``.

    The tamper used by the demos and tests; ``src`` is left as it was: ``dst``
    may not be ``src`` (nor a link to it), nor an existing file unless
    ``overwrite=True``.
    """
    src = check_path(src, "src", exists=True)
    raw = bytearray(src.read_bytes())
    if not raw:
        raise ValueError(f"src {str(src)!r} is empty: it has no bit to flip")
    bit = check_int(bit, "bit", min=0, max=8 * len(raw) - 1)
    dst = check_new_path(dst, "dst", overwrite=overwrite, sources=[src])
    raw[bit // 8] ^= 1 << (bit % 8)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(raw))
    return dst
