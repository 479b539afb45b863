"""Public-key signatures for model files with OpenSSF ``model-signing`` (an optional extra).

Threat model: the attacker can replace both a model file and any manifest
beside it, but does not hold the publisher's private key.  The publisher
signs with the private key; everyone who loads the model verifies with the
public key, which cannot sign.  This is what :func:`.integrity.sign_file`'s
HMAC cannot give: with HMAC every verifier holds the signing key.

``model-signing`` (https://github.com/sigstore/model-transparency) signs a
*manifest* of the model's files with Sigstore or, as here, with a plain
elliptic-curve key pair, entirely offline.  Install it with::

    pip install "model-signing>=1.1.1" pyopenssl

(``pyopenssl`` is imported by model-signing 1.1.1 but not declared.)  When it
is missing, :func:`available` returns False and the chapter falls back to the
HMAC signatures of :mod:`.integrity`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from modelsec_edu.validation import check_new_path, check_path

from .integrity import IntegrityError

__all__ = ["available", "generate_keypair", "sign", "verify"]


def available() -> bool:
    """True when ``model-signing`` and the ``cryptography`` package it uses can be imported."""
    return all(
        importlib.util.find_spec(m) is not None
        for m in ("model_signing", "cryptography", "OpenSSL")
    )


def _require() -> None:
    if not available():
        raise ImportError(
            "public-key signing needs the optional packages model-signing and pyopenssl: "
            'pip install "model-signing>=1.1.1" pyopenssl (or use integrity.sign_file, the HMAC '
            "fallback)"
        )


def generate_keypair(directory: str | os.PathLike, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new NIST P-256 key pair as ``private.pem`` and ``public.pem``; return their paths.

    An existing key is never replaced unless ``overwrite=True``: losing a
    private key loses the ability to sign.
    """
    directory = check_path(directory, "directory")
    private = check_new_path(directory / "private.pem", "directory", overwrite=overwrite)
    public = check_new_path(directory / "public.pem", "directory", overwrite=overwrite)
    _require()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(private, 0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def sign(
    model_path: str | os.PathLike,
    private_key: str | os.PathLike,
    signature: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Sign a model file (or directory) with a private key; writes and returns the signature bundle.

    The bundle is never written over the model or the key, nor over an
    existing file unless ``overwrite=True``.
    """
    model_path, private_key = (
        check_path(model_path, "model_path"),
        check_path(private_key, "private_key"),
    )
    if not model_path.exists():
        raise FileNotFoundError(f"model_path: no such model {str(model_path)!r}")
    signature = check_new_path(
        signature, "signature", overwrite=overwrite, sources=[model_path, private_key]
    )
    _require()
    import model_signing

    model_signing.signing.Config().use_elliptic_key_signer(private_key=private_key).sign(
        model_path, signature
    )
    return signature


def verify(
    model_path: str | os.PathLike, public_key: str | os.PathLike, signature: str | os.PathLike
) -> None:
    """Verify a model against its signature bundle and public key, else :class:`.IntegrityError`."""
    model_path, signature = check_path(model_path, "model_path"), check_path(signature, "signature")
    public_key = check_path(public_key, "public_key")
    for name, p in (("model_path", model_path), ("signature", signature)):
        if not p.exists():
            raise FileNotFoundError(f"{name}: no such file {str(p)!r}")
    _require()
    import model_signing

    try:
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(
            model_path, signature
        )
    except ValueError as exc:  # model-signing reports a mismatch as ValueError
        raise IntegrityError(
            f"{model_path.name} failed signature verification: {str(exc)[:200]}"
        ) from exc
