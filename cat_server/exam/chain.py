"""The hash chain over an attempt's responses: each row's hash covers the one before."""

from __future__ import annotations

import hashlib
import json

GENESIS = "0" * 64


def chain_hash(prev: str, attempt_id, seq, item_id, choice, score, answered_at) -> str:
    """sha256 over the previous hash and the response's fields, in a fixed text form."""
    body = json.dumps(
        [prev, attempt_id, seq, item_id, choice, score, answered_at.isoformat()],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()
