"""Signing keys for policy bundles and waivers: ES256 (ECDSA on P-256) only, via `cryptography`.

One algorithm on purpose: a verifier that accepts whatever `alg` a token names is the classic JWT
hole (HS256 signed with the public key, or `none`). Every verifier in this package pins ES256 and
refuses keys of any other type before a signature is even looked at.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"


class KeyFormatError(ValueError):
    """A key that cannot be used: unreadable PEM, wrong type, or wrong curve."""


def generate_keypair() -> tuple[bytes, bytes]:
    """A fresh P-256 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, public_pem_of(private)


def public_pem_of(private: ec.EllipticCurvePrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """Parse an unencrypted P-256 private key, refusing any other key type."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a usable private key PEM: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFormatError("signing key must be an ECDSA P-256 key (ES256)")
    return key


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """Parse a P-256 public key, refusing any other key type (so no algorithm confusion)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a usable public key PEM: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFormatError("verification key must be an ECDSA P-256 public key (ES256)")
    return key


def fingerprint(public_pem: bytes) -> str:
    """SHA-256 of the DER public key, hex: what to compare out of band when pinning a key."""
    key = load_public_key(public_pem)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
