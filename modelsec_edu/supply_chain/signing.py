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

from .integrity import IntegrityError

__all__ = ["available", "generate_keypair", "sign", "verify"]


def available() -> bool:
    """True when ``model-signing`` and the ``cryptography`` package it uses can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in ("model_signing", "cryptography", "OpenSSL"))


def _require() -> None:
    if not available():
        raise ImportError(
            "public-key signing needs the optional packages model-signing and pyopenssl: "
            'pip install "model-signing>=1.1.1" pyopenssl (or use integrity.sign_file, the HMAC fallback)'
        )


def generate_keypair(directory: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new NIST P-256 key pair as ``private.pem`` and ``public.pem``; return their paths."""
    _require()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / "private.pem", directory / "public.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(private, 0o600)
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def sign(model_path: str | os.PathLike, private_key: str | os.PathLike, signature: str | os.PathLike) -> Path:
    """Sign a model file (or directory) with a private key; writes and returns the signature bundle."""
    _require()
    import model_signing

    model_path, signature = Path(model_path), Path(signature)
    if not model_path.exists():
        raise FileNotFoundError(f"no such model: {model_path}")
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private_key).sign(model_path, signature)
    return signature


def verify(model_path: str | os.PathLike, public_key: str | os.PathLike, signature: str | os.PathLike) -> None:
    """Verify a model against its signature bundle with the public key; raise :class:`.IntegrityError` if it fails."""
    _require()
    import model_signing

    model_path, signature = Path(model_path), Path(signature)
    for p in (model_path, signature):
        if not p.exists():
            raise FileNotFoundError(f"no such file: {p}")
    try:
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(model_path, signature)
    except ValueError as exc:  # model-signing reports a mismatch as ValueError
        raise IntegrityError(f"{model_path.name} failed signature verification: {str(exc)[:200]}") from exc
