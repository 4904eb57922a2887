"""Refusals nobody logs in for, counted per address and minute, audited one row each.

Two refusals happen before Flask, where a database write per refusal would be
the very work they save, and where a flood would fill the audit table:

- ``login_busy``: a login answered 503 by the admission guard (admission.py);
- ``socket_origin_refused``: a Socket.IO request from a page of another origin
  (python-engineio answers 400 "Not an accepted origin.").

Each is counted in this process's memory, per (action, address) and per
minute (``REFUSAL_WINDOW_S``). ``flush`` writes one audit row for each minute
that has ended, with the count (``refused``), the minute (``minute`` in the
centre's zone, "2026-12-06 20:27 WIB"; ``since`` with its offset) and the address; the background task (tasks.py) calls it every few
seconds, so a row appears at most a window and a few seconds after the first
refusal. A thousand refusals from one address in a minute are one row; several
processes write one each. The actor is ``address:<address>``: ``/admin/audit``
shows them under "client addresses" (and "server") and by action. A foreign
origin's row names the origins (``origins``, the first few); that row, logged
once committed (logs.py), is the refusal's only log line: engine.io's own is
dropped.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .localtime import format_local, iso_local
from .models import audit

LOGIN_BUSY = "login_busy"
FOREIGN_ORIGIN = "socket_origin_refused"
WINDOW_S = 60
ORIGINS_KEPT = 5  # per row: a page that tries many origins is not a longer row


class Tally:
    """{(action, address, window start): count}, this process's, not yet written."""

    def __init__(self, window_s: int = WINDOW_S):
        self.window_s = window_s
        self.counts: dict[tuple[str, str, int], int] = {}
        self.origins: dict[tuple[str, str, int], list[str]] = {}
        self.lock = threading.Lock()

    def count(
        self, action: str, address: str | None, now: float | None = None, origin: str | None = None
    ) -> None:
        now = time.time() if now is None else now
        start = int(now // self.window_s * self.window_s)
        key = (action, _address(address), start)
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            if origin:
                seen = self.origins.setdefault(key, [])
                if origin[:200] not in seen and len(seen) < ORIGINS_KEPT:
                    seen.append(origin[:200])

    def take(self, now: float | None = None, *, everything: bool = False):
        """The counts of the windows that have ended (all of them with ``everything``)."""
        now = time.time() if now is None else now
        with self.lock:
            done = [k for k in self.counts if everything or k[2] + self.window_s <= now]
            return [(key, self.counts.pop(key), self.origins.pop(key, [])) for key in done]


def _address(raw: str | None) -> str:
    """As lockout.client_address counts it: IPv4, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(raw or "")
    except ValueError:
        return (raw or "unknown")[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def tally(app) -> Tally:
    return app.extensions["cat_refusals"]


def count(app, action: str, address: str | None, origin: str | None = None) -> None:
    """One refusal: a counter in memory, nothing else (safe outside Flask, on any thread)."""
    tally(app).count(action, address, origin=origin)


def flush(app, now: float | None = None, *, everything: bool = False) -> int:
    """Write one audit row per (action, address) and ended window; return how many.

    Needs an app context. If the database refuses, the counts are kept for the
    next flush.
    """
    taken = tally(app).take(now, everything=everything)
    if not taken:
        return 0
    window = tally(app).window_s
    try:
        for (action, address, start), n, origins in taken:
            audit(
                f"address:{address}",
                action,
                refused=n,
                address=address,
                window_s=window,
                # the minute in the centre's zone, as a person reads it, and exactly
                minute=format_local(datetime.fromtimestamp(start, UTC)),
                since=iso_local(datetime.fromtimestamp(start, UTC)),
                **({"origins": origins} if origins else {}),
            )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        with tally(app).lock:
            for key, n, origins in taken:
                tally(app).counts[key] = tally(app).counts.get(key, 0) + n
                if origins:
                    tally(app).origins.setdefault(key, origins)
        app.logger.exception("could not audit %d refusal counts", len(taken))
        return 0
    return len(taken)


def init_app(app) -> None:
    app.extensions["cat_refusals"] = Tally(int(app.config.get("REFUSAL_WINDOW_S", WINDOW_S)))
