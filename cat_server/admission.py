"""Admission guard for logins: under overload, a fast 503 with Retry-After, never a timeout.

One gevent worker serves every seat of a centre. A login verifies an argon2 PIN
hash and writes the attempt; a flood of them (a whole building pressing "Masuk"
after a power cut, or a script) must not starve the candidates who are already
answering, nor pile up until browsers time out. So each server process counts
the login POSTs in flight; above ``MAX_LOGINS_IN_FLIGHT`` a new one is answered
at once with 503 and ``Retry-After`` (``LOGIN_RETRY_AFTER`` seconds plus
jitter, so the retries do not come back together). The login page says
"server busy, retrying" and sends the form again after that many seconds
(static/js/login.js).

It is WSGI middleware, in front of Flask: a refusal costs no session, CSRF,
limiter, template or database work (a tenth of a millisecond), so a burst of
hundreds of logins cannot hold the event loop long enough to delay /healthz or
the answers of connected seats. Greenlets of one gevent worker never run at the
same time, so a plain counter is exact; under the threading server (tests) a
lock keeps it so.
"""

from __future__ import annotations

import json
import random
import threading

from werkzeug.exceptions import HTTPException

from . import metrics

LOGIN_ENDPOINTS = frozenset({"exam.login", "auth.login"})
MESSAGE = "Server sedang sibuk. Mencoba lagi dalam beberapa detik."
MESSAGE_EN = "The server is busy. Retrying in a few seconds."
PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{seconds}">
<title>503 — CAT UPT BKN</title><link rel="stylesheet" href="/static/css/app.css"></head>
<body class="kiosk"><main class="content">
<section class="card narrow error-page" role="alert" data-testid="server-busy">
<p class="error-status">503</p>
<h1 lang="id">{message}</h1><p lang="en">{message_en}</p>
<p lang="id">Halaman login dibuka lagi dalam {seconds} detik; masukkan nomor peserta dan PIN
Anda kembali.</p>
<p lang="en">The login page opens again in {seconds} seconds; enter your registration number
and PIN again.</p>
</section></main></body></html>
"""


class AdmissionGuard:
    """Wraps ``app.wsgi_app``: counts login POSTs in flight, refuses the excess with 503."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app = wsgi_app
        self.app = app
        self.lock = threading.Lock()
        self.in_flight = 0
        self.refused = 0

    def _is_login(self, environ) -> bool:
        if environ.get("REQUEST_METHOD") != "POST":
            return False
        try:
            endpoint, _ = self.app.url_map.bind_to_environ(environ).match(method="POST")
        except HTTPException:
            return False
        return endpoint in LOGIN_ENDPOINTS

    def __call__(self, environ, start_response):
        if not self._is_login(environ):
            return self.wsgi_app(environ, start_response)
        limit = int(self.app.config.get("MAX_LOGINS_IN_FLIGHT", 16))
        with self.lock:
            admitted = limit <= 0 or self.in_flight < limit
            if admitted:
                self.in_flight += 1
            else:
                self.refused += 1
                metrics.LOGINS_REFUSED.inc()
        if not admitted:
            return self._busy(environ, start_response)
        try:
            # Flask has built the whole response by the time wsgi_app returns
            return self.wsgi_app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _busy(self, environ, start_response):
        # Read the (small) form first: a socket closed with unread bytes sends a TCP
        # reset, and the browser would see "connection reset" instead of this answer.
        length = environ.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) <= 64 * 1024:
            environ["wsgi.input"].read(int(length))
        base = int(self.app.config.get("LOGIN_RETRY_AFTER", 3))
        seconds = base + random.randint(0, max(1, base))
        if "application/json" in environ.get("HTTP_ACCEPT", ""):
            body = json.dumps(
                {
                    "ok": False,
                    "error": "busy",
                    "message": MESSAGE,
                    "message_en": MESSAGE_EN,
                    "retry_after": seconds,
                }
            )
            content_type = "application/json"
        else:
            body = PAGE.format(seconds=seconds, message=MESSAGE, message_en=MESSAGE_EN)
            content_type = "text/html; charset=utf-8"
        data = body.encode("utf-8")
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(data))),
                ("Retry-After", str(seconds)),
                ("Cache-Control", "no-store"),
            ],
        )
        return [data]


def init_app(app) -> None:
    app.wsgi_app = AdmissionGuard(app.wsgi_app, app)
    app.extensions["cat_admission"] = app.wsgi_app
