"""The release-fetch protocol's two messages: the centre's signed request and the issuer's sealed answer.

No database, no HTTP: bytes in, bytes out (docs/packages.md, *Fetching the
code from the issuer*). The centre signs its request with its Ed25519 key and
puts a fresh X25519 public key in it; the issuer answers with the release code
encrypted to that key (X25519, HKDF-SHA256, AES-256-GCM) and signs the answer
with its own key, so only the centre that asked can read the code, even over
plain HTTP, and a replayed answer does not open for a new request.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import keys

REQUEST_FORMAT = "cat-server-release-request"
ANSWER_FORMAT = "cat-server-release-answer"
VERSION = 1
REQUEST_FIELDS = ("centre", "issued_at", "nonce", "package_id", "reply_key", "sitting", "slot")


class ExchangeProblem(Exception):
    """A message that is not what the protocol says; the text names what is wrong."""


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signed(kind: str, body: dict) -> bytes:
    return f"{kind} v{VERSION}\n".encode() + canonical(body)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_utc(text) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ExchangeProblem(f"{text!r} is no ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ExchangeProblem(f"{text!r} names no zone")
    return moment.astimezone(UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError:
        raise ExchangeProblem(f"{what} is not base64") from None


@dataclass
class Request:
    """A parsed request: its body, the key it carries and its signature (not yet checked)."""

    body: dict
    public_key: Ed25519PublicKey
    signature: bytes

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        return keys.verify(key, self.signature, _signed(REQUEST_FORMAT, self.body))


def make_request(
    centre_key: Ed25519PrivateKey,
    *,
    centre: str,
    package_id: str,
    slot: str,
    sitting: dict,
    now: datetime,
) -> tuple[bytes, X25519PrivateKey, dict]:
    """(the request's bytes, the private half of its reply key, its body); keep the key in memory."""
    reply = X25519PrivateKey.generate()
    body = {
        "centre": centre,
        "issued_at": utc_text(now),
        "nonce": os.urandom(16).hex(),
        "package_id": package_id,
        "reply_key": _b64(
            reply.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        ),
        "sitting": sitting,
        "slot": slot,
    }
    document = {
        "format": REQUEST_FORMAT,
        "version": VERSION,
        "body": body,
        "public_key": keys.public_pem(centre_key.public_key()).decode(),
        "signature": _b64(centre_key.sign(_signed(REQUEST_FORMAT, body))),
    }
    return json.dumps(document).encode(), reply, body


def read_request(data: bytes) -> Request:
    """The request's parts, its shape checked; ExchangeProblem naming the first thing wrong."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ExchangeProblem("the request is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != REQUEST_FORMAT:
        raise ExchangeProblem(f"the request is not a {REQUEST_FORMAT}")
    if document.get("version") != VERSION:
        raise ExchangeProblem(
            f"request version {document.get('version')!r}; this issuer reads version {VERSION}"
        )
    body = document.get("body")
    if not isinstance(body, dict) or sorted(body) != sorted(REQUEST_FIELDS):
        raise ExchangeProblem(f"the request's body must have exactly {', '.join(REQUEST_FIELDS)}")
    for name in ("centre", "issued_at", "nonce", "package_id", "reply_key", "slot"):
        shortest = 0 if name == "centre" else 1  # CAT_CENTRE_ID may be unset: the key names it
        if not isinstance(body[name], str) or not shortest <= len(body[name]) <= 200:
            raise ExchangeProblem(f"the request's {name} must be a short text")
    if not isinstance(body["sitting"], dict):
        raise ExchangeProblem("the request's sitting must be an object")
    if len(_unb64(body["reply_key"], "reply_key")) != 32:
        raise ExchangeProblem("the request's reply_key is not an X25519 key")
    try:
        public = keys.load_public_key(str(document.get("public_key", "")).encode(), "its key")
    except keys.KeyProblem as problem:
        raise ExchangeProblem(f"the request's key: {problem}") from None
    signature = _unb64(document.get("signature", ""), "the signature")
    return Request(body, public, signature)


def _box_key(shared: bytes, request: dict) -> tuple[bytes, bytes]:
    context = canonical({k: request[k] for k in ("nonce", "package_id", "slot")})
    key = HKDF(
        hashes.SHA256(), 32, salt=None, info=b"cat-server release answer v1|" + context
    ).derive(shared)
    return key, context


def make_answer(
    issuer_key: Ed25519PrivateKey, request: dict, centre: str, code: str, now: datetime
) -> dict:
    """The issuer's answer: ``code`` sealed to the request's reply key, the whole signed."""
    ephemeral = X25519PrivateKey.generate()
    peer = X25519PublicKey.from_public_bytes(_unb64(request["reply_key"], "reply_key"))
    key, context = _box_key(ephemeral.exchange(peer), request)
    nonce = os.urandom(12)
    body = {
        "centre": centre,
        "ephemeral": _b64(
            ephemeral.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        ),
        "issued_at": utc_text(now),
        "nonce": request["nonce"],
        "package_id": request["package_id"],
        "sealed_code": _b64(nonce + AESGCM(key).encrypt(nonce, code.encode(), context)),
        "slot": request["slot"],
    }
    signature = issuer_key.sign(_signed(ANSWER_FORMAT, body))
    return {"format": ANSWER_FORMAT, "version": VERSION, "body": body, "signature": _b64(signature)}


def open_answer(
    document, issuer_public: Ed25519PublicKey, request: dict, reply: X25519PrivateKey
) -> str:
    """The release code in the issuer's answer to ``request``; ExchangeProblem if it is not that."""
    if not isinstance(document, dict) or document.get("format") != ANSWER_FORMAT:
        raise ExchangeProblem(f"the answer is not a {ANSWER_FORMAT}")
    body = document.get("body")
    if not isinstance(body, dict):
        raise ExchangeProblem("the answer has no body")
    signature = _unb64(document.get("signature", ""), "the answer's signature")
    try:
        issuer_public.verify(signature, _signed(ANSWER_FORMAT, body))
    except InvalidSignature:
        raise ExchangeProblem("the answer is not signed by the imported issuer key") from None
    for name in ("nonce", "package_id", "slot"):
        if body.get(name) != request[name]:
            raise ExchangeProblem(f"the answer is for another request (its {name} differs)")
    try:
        peer = X25519PublicKey.from_public_bytes(_unb64(body.get("ephemeral"), "ephemeral"))
        sealed = _unb64(body.get("sealed_code"), "sealed_code")
        key, context = _box_key(reply.exchange(peer), request)
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], context).decode()
    except (ValueError, InvalidTag):
        raise ExchangeProblem("the answer's sealed code does not open with this request") from None
