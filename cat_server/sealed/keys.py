"""The centre's Ed25519 signing key, the issuer's public key, and sealing under the centre's key.

Private keys live outside the database: a PEM file with 0600 permissions
(``CAT_CENTRE_KEY_FILE``, default ``instance/keys/centre-ed25519.pem``) or the
PEM text in ``CAT_CENTRE_KEY``. They are never exported, backed up or logged:
only public keys and fingerprints are printed. The issuer's public key is a
PEM file in ``instance/keys/issuer-ed25519.pub`` (``CAT_ISSUER_KEY_FILE``).

:func:`seal` / :func:`unseal` keep a secret (a released package key) at rest
under a key derived from the centre's private key for one purpose only
(HKDF-SHA256, info = the purpose), AES-256-GCM with the purpose as associated
data: a copy of the database without the key file opens nothing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

SEAL_VERSION = b"\x01"


class KeyProblem(Exception):
    """A key is missing, unreadable, of the wrong kind or too open; the message says which."""


def centre_key_path() -> Path:
    configured = current_app.config.get("CENTRE_KEY_FILE")
    return Path(configured or Path(current_app.instance_path) / "keys" / "centre-ed25519.pem")


def issuer_key_path() -> Path:
    configured = current_app.config.get("ISSUER_KEY_FILE")
    return Path(configured or Path(current_app.instance_path) / "keys" / "issuer-ed25519.pub")


def write_private_key(path: Path) -> Ed25519PrivateKey:
    """Make a new key pair and write its private half to ``path`` (0600); never overwrites."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyProblem(f"{path} exists already; a key is never overwritten") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file readable by its owner only."""
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as error:
        raise KeyProblem(f"cannot read {path}: {error.strerror}") from None
    if mode & 0o077:
        raise KeyProblem(f"{path} is readable by others (mode {mode:o}); chmod 600 {path}")
    return _private_from_pem(data, str(path))


def _private_from_pem(data: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyProblem(f"{where} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{where} is not an Ed25519 key")
    return key


def centre_private_key() -> Ed25519PrivateKey:
    """The centre's signing key: ``CAT_CENTRE_KEY`` (PEM text) or the key file."""
    text = current_app.config.get("CENTRE_KEY")
    if text:
        return _private_from_pem(text.encode(), "CAT_CENTRE_KEY")
    path = centre_key_path()
    if not path.exists():
        raise KeyProblem(
            f"the centre has no signing key ({path}); make one: cat-server keys create"
        )
    return read_private_key(path)


def centre_public_key() -> Ed25519PublicKey:
    return centre_private_key().public_key()


def load_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; ``where`` names the source in the message."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise KeyProblem(f"{where} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem(f"{where} is not an Ed25519 public key")
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise KeyProblem(f"cannot read {path}: {error.strerror}") from None
    return load_public_key(data, str(path))


def issuer_public_key() -> Ed25519PublicKey:
    """The national issuer's public key, imported with ``cat-server keys import-issuer``."""
    path = issuer_key_path()
    if not path.exists():
        raise KeyProblem(
            f"no issuer public key is imported ({path}); cat-server keys import-issuer FILE"
        )
    return read_public_key(path)


def import_issuer_key(source: Path, replace: bool = False) -> Ed25519PublicKey:
    """Check ``source`` is an Ed25519 public key and keep it as the issuer's.

    Another key already trusted is replaced only with ``replace`` (a new issuer
    key is a rare, deliberate event, checked by its fingerprint).
    """
    key = read_public_key(source)
    path = issuer_key_path()
    if path.exists() and not replace:
        current = read_public_key(path)
        if raw_public(current) != raw_public(key):
            raise KeyProblem(
                f"another issuer key ({fingerprint(current)}) is trusted already; to replace "
                "it, check the new fingerprint with the issuer and pass --replace"
            )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(public_pem(key))
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the first 16 bytes of SHA-256 of the raw key, for people to compare."""
    digest = hashlib.sha256(raw_public(key)).hexdigest()[:32]
    return "ed25519:" + ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def verify(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _seal_key(purpose: str) -> bytes:
    private = centre_private_key().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"cat_server seal v1 " + purpose.encode(),
    )
    return hkdf.derive(private)


def seal(purpose: str, secret: bytes) -> bytes:
    """``secret`` encrypted under the centre's key for ``purpose`` only (e.g. ``sitting:12``)."""
    nonce = os.urandom(12)
    return (
        SEAL_VERSION + nonce + AESGCM(_seal_key(purpose)).encrypt(nonce, secret, purpose.encode())
    )


def unseal(purpose: str, blob: bytes) -> bytes:
    """The secret :func:`seal` kept for ``purpose``; KeyProblem for another purpose or key."""
    if blob[:1] != SEAL_VERSION or len(blob) < 1 + 12 + 16:
        raise KeyProblem("not a sealed value of this version")
    try:
        return AESGCM(_seal_key(purpose)).decrypt(blob[1:13], blob[13:], purpose.encode())
    except InvalidTag:
        raise KeyProblem(
            f"the sealed value does not open for {purpose} with this centre's key"
        ) from None
