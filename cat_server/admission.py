"""Admission guard for logins: under overload, a fast 503 with Retry-After, never a timeout.

One gevent worker serves every seat of a centre. A login verifies an argon2 PIN
hash and writes the attempt; a flood of them (a whole building pressing "Masuk"
after a power cut, or a script) must not starve the candidates who are already
answering, nor pile up until browsers time out. So each server process counts
its login POSTs in flight; above ``MAX_LOGINS_IN_FLIGHT`` a new one is answered
at once with 503 and ``Retry-After`` (a few seconds, jittered so the retries do
not come back together), before any hashing or database work. The login page
says "server busy, retrying" and sends the form again after that many seconds.

Greenlets of one gevent worker never run at the same time, so a plain counter
is exact; under the threading server (tests) a lock keeps it so.
"""

from __future__ import annotations

import functools
import random
import threading

from flask import current_app, make_response, render_template, request

_lock = threading.Lock()
_in_flight = 0
_refused = 0


def in_flight() -> int:
    return _in_flight


def refused() -> int:
    """Logins refused with 503 since the process started (for /healthz and the tests)."""
    return _refused


def _retry_after() -> int:
    base = int(current_app.config.get("LOGIN_RETRY_AFTER", 3))
    return base + random.randint(0, max(1, base))


def guard_logins(view):
    """Refuse a login POST with 503 + Retry-After when too many are in flight already."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        global _in_flight, _refused
        if request.method != "POST":
            return view(*args, **kwargs)
        limit = int(current_app.config.get("MAX_LOGINS_IN_FLIGHT", 16))
        with _lock:
            admitted = limit <= 0 or _in_flight < limit
            if admitted:
                _in_flight += 1
            else:
                _refused += 1
        if not admitted:
            return busy_response()
        try:
            return view(*args, **kwargs)
        finally:
            with _lock:
                _in_flight -= 1

    return wrapper


def busy_response():
    """503: JSON for API clients, else a bilingual page that retries the login by itself."""
    from .errors import wants_json

    seconds = _retry_after()
    message = "Server sedang sibuk. Mencoba lagi dalam beberapa detik."
    message_en = "The server is busy. Retrying in a few seconds."
    if wants_json():
        response = make_response(
            {
                "ok": False,
                "error": "busy",
                "message": message,
                "message_en": message_en,
                "retry_after": seconds,
            },
            503,
        )
    else:
        response = make_response(
            render_template(
                "busy.html", retry_after=seconds, message=message, message_en=message_en
            ),
            503,
        )
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    return response
