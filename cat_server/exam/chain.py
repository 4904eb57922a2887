"""The response chain: each row's HMAC covers the one before, under a key kept outside the database.

Each response row stores ``prev_hash`` (the attempt's ``chain_head`` when it
was written) and ``hash`` = HMAC-SHA256, under the centre's chain key, of the
link text of :func:`link_text`. Without the key, someone who can write the
database cannot make a row that verifies. The chain starts at the attempt's
:func:`genesis`, set as its ``chain_head`` when the attempt is made: an HMAC of
whose attempt it is (registration number, sitting, exam), so an attempt moved
to another candidate no longer verifies. Attempts written before the key
existed carry the plain SHA-256 of the same text (``key=None``), and before
the binding they start at 64 zeros; ``cat-server verify`` accepts those only
up to the attempt ids ``CAT_CHAIN_UNKEYED_UNTIL`` and
``CAT_CHAIN_UNBOUND_UNTIL`` (admin/scores.py, docs/admin.md).

The key: ``CAT_CHAIN_KEY`` (>= 32 bytes, its UTF-8 bytes as written), else the
file ``chain_key`` in the instance folder, made once (64 hex digits, mode 600)
and never replaced. Every process of a centre must have the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from flask import current_app

from .. import keystrength

GENESIS = "0" * 64
KEY_FILE = "chain_key"
MIN_KEY_BYTES = 32
# TESTING apps without CHAIN_KEY: public, so it signs nothing that matters
TEST_KEY = b"cat-server test chain key: public, never for real exams"
_HEAD = "cat-server chain head v2"  # what a head signature's text starts with
_GENESIS = "cat-server chain genesis"  # what a genesis' text starts with
_BASIS = "cat-server score basis"  # what a score basis' text starts with


class ChainKeyError(RuntimeError):
    """The chain key is missing, too short, patterned, the secret key or unreadable: no chaining."""


def init_app(app) -> None:
    """Resolve the chain key once, at start-up: a problem shows now, not at the first answer."""
    key = app.config.get("CHAIN_KEY")
    if not app.testing and "CAT_CHAIN_KEY" in os.environ:  # as written, not parsed as JSON
        key = os.environ["CAT_CHAIN_KEY"]
    if key:
        source = "CAT_CHAIN_KEY"
        if not isinstance(key, str | bytes):
            raise ChainKeyError("CAT_CHAIN_KEY must be text (e.g. 64 hex digits).")
        key = key.encode() if isinstance(key, str) else key
        if len(key) < MIN_KEY_BYTES:
            raise ChainKeyError(f"CAT_CHAIN_KEY is shorter than {MIN_KEY_BYTES} bytes.")
        if not app.testing and (weak := keystrength.weakness(key)):
            raise ChainKeyError(
                f"CAT_CHAIN_KEY is too easy to guess: {weak}. Make one with\n"
                f"    {keystrength.MAKE_A_KEY}"
            )
    elif app.testing:
        source, key = "the public test key", TEST_KEY
    else:
        path = Path(app.instance_path) / KEY_FILE
        source, key = str(path), key_from_file(path).encode()
    secret = app.config.get("SECRET_KEY")
    if (
        not app.testing
        and secret
        and key == (secret.encode() if isinstance(secret, str) else secret)
    ):
        raise ChainKeyError(
            f"The chain key ({source}) is the secret key: whoever holds the cookie key "
            "could forge answers that verify. Give CAT_CHAIN_KEY a key of its own:\n"
            f"    {keystrength.MAKE_A_KEY}"
        )
    app.extensions["cat_chain_key"] = key
    app.extensions["cat_chain_key_source"] = f"{source}, id {key_id(key)}"


def key_from_file(path: Path) -> str:
    """The key in ``path``; made there first (64 hex digits, mode 600) if there is no file.

    Never replaced: a new key would orphan every chain written with the old
    one. Processes starting together agree: the first file linked in wins.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    try:
        key = path.read_text().strip()
    except OSError as error:
        raise ChainKeyError(f"Cannot read the chain key {path}: {error}") from None
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ChainKeyError(
            f"{path} holds fewer than {MIN_KEY_BYTES} bytes. Restore the centre's chain key "
            "there (or set CAT_CHAIN_KEY); a new key cannot verify the answers already written."
        )
    return key


def chain_key() -> bytes:
    """The current app's chain key (resolved by :func:`init_app`)."""
    return current_app.extensions["cat_chain_key"]


def key_source() -> str:
    """Where the key came from and its id, for ``cat-server verify`` and the admin page."""
    return current_app.extensions["cat_chain_key_source"]


def key_id(key: bytes) -> str:
    """8 hex digits naming a key without revealing it: compare them across servers."""
    return hmac.new(key, b"cat-server chain key id", hashlib.sha256).hexdigest()[:8]


def link_text(prev: str, attempt_id, seq, item_id, choice, score, answered_at) -> bytes:
    """The text one link covers: JSON ``[prev, attempt, seq, item, choice, score, time]``."""
    return json.dumps(
        [prev, attempt_id, seq, item_id, choice, score, answered_at.isoformat()],
        separators=(",", ":"),
    ).encode()


def chain_hash(
    prev: str, attempt_id, seq, item_id, choice, score, answered_at, *, key: bytes | None
) -> str:
    """HMAC-SHA256 under ``key`` of the link text; ``key=None``: its plain SHA-256 (old rows)."""
    text = link_text(prev, attempt_id, seq, item_id, choice, score, answered_at)
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.digest(key, text, "sha256").hex()


def genesis(
    key: bytes, attempt_id: int, registration_no: str, sitting_id: int, exam_id: int
) -> str:
    """The first link's ``prev_hash``: whose attempt this is, under the key.

    HMAC-SHA256 of ``"cat-server chain genesis\\n<attempt id>\\n<registration
    number>\\n<sitting id>\\n<exam id>"`` in lower-case hex (docs/formats.md).
    """
    text = f"{_GENESIS}\n{attempt_id}\n{registration_no}\n{sitting_id}\n{exam_id}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def genesis_of(attempt) -> str:
    """:func:`genesis` of an ``Attempt`` as its candidate and sitting now stand."""
    sitting = attempt.sitting
    return genesis(
        chain_key(), attempt.id, attempt.candidate.registration_no, sitting.id, sitting.exam_id
    )


def head_signature(
    key: bytes,
    attempt_id: int,
    registration_no: str,
    sitting_id: int,
    exam_id: int,
    n: int,
    head: str,
) -> str:
    """A score export's proof: HMAC-SHA256 of whose attempt, how many links and the last.

    The text: ``"cat-server chain head v2\\n<attempt id>\\n<registration number>
    \\n<sitting id>\\n<exam id>\\n<n>\\n<head>"`` (docs/formats.md).
    """
    text = f"{_HEAD}\n{attempt_id}\n{registration_no}\n{sitting_id}\n{exam_id}\n{n}\n{head}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def basis_mac(key: bytes, attempt_id: int, section_code: str, items: list) -> str:
    """HMAC-SHA256 of what an adaptive section's score was estimated from (exam/scoring.py).

    The text: ``"cat-server score basis\\n"`` then the JSON ``[attempt id, section
    code, items]``, each item ``[item id, category, model, a, b, c, d, thresholds]``
    with every parameter a float (``b`` and ``thresholds`` may be null).
    """
    text = json.dumps([attempt_id, section_code, items], separators=(",", ":"))
    return hmac.new(key, f"{_BASIS}\n{text}".encode(), hashlib.sha256).hexdigest()
