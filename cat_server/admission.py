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

import io
import json
import random
import socket
import threading
import time

from werkzeug.exceptions import HTTPException

from . import refusals

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
        self.too_slow = 0

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
        problem = self._read_body(environ)
        if problem is not None:
            return self._refuse_body(environ, start_response, problem)
        limit = int(self.app.config.get("MAX_LOGINS_IN_FLIGHT", 16))
        with self.lock:
            admitted = limit <= 0 or self.in_flight < limit
            if admitted:
                self.in_flight += 1
            else:
                self.refused += 1
        if not admitted:
            refusals.count(self.app, refusals.LOGIN_BUSY, environ.get("REMOTE_ADDR"))
            return self._busy(environ, start_response)
        try:
            # Flask has built the whole response by the time wsgi_app returns
            return self.wsgi_app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _read_body(self, environ) -> str | None:
        """Read the login's whole body within the deadline; None, or why it was refused.

        The body read is put back as ``wsgi.input`` with its length, so Flask
        parses it from memory.
        """
        most = int(self.app.config.get("LOGIN_MAX_BODY", 64 * 1024))
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length.isdigit():
            want = int(length)
            if want > most:
                return "large"
        elif chunked:
            want = most + 1  # up to the end of the chunks
        else:
            want = 0
        seconds = float(self.app.config.get("LOGIN_BODY_TIMEOUT", 5.0))
        try:
            body = _read_within(environ["wsgi.input"], want, seconds)
        except TimeoutError:
            with self.lock:
                self.too_slow += 1
            return "slow"
        if len(body) > most:
            return "large"
        if len(body) < want and not chunked:
            return "short"
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)
        return None

    def _refuse_body(self, environ, start_response, problem):
        status, message, message_en = BODY_REFUSALS[problem]
        if "application/json" in environ.get("HTTP_ACCEPT", ""):
            body = json.dumps(
                {"ok": False, "error": problem, "message": message, "message_en": message_en}
            )
            content_type = "application/json"
        else:
            body = REFUSAL_PAGE.format(status=status[:3], message=message, message_en=message_en)
            content_type = "text/html; charset=utf-8"
        data = body.encode("utf-8")
        start_response(
            status,
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
            ],
        )
        return _ClosingBody(data, environ.get("gunicorn.socket"))

    def _busy(self, environ, start_response):
        # the form was read whole before (_read_body): no unread bytes make the
        # socket's close a TCP reset, so the browser sees this answer
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


REFUSAL_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<title>{status} — CAT UPT BKN</title><link rel="stylesheet" href="/static/css/app.css"></head>
<body class="kiosk"><main class="content">
<section class="card narrow error-page" role="alert">
<p class="error-status">{status}</p>
<h1 lang="id">{message}</h1><p lang="en">{message_en}</p>
</section></main></body></html>
"""
BODY_REFUSALS = {
    "slow": (
        "408 Request Timeout",
        "Permintaan terlalu lambat terkirim. Muat ulang halaman dan coba lagi.",
        "The request arrived too slowly. Reload the page and try again.",
    ),
    "large": (
        "413 Content Too Large",
        "Formulir login terlalu besar.",
        "The login form is too large.",
    ),
    "short": (
        "400 Bad Request",
        "Formulir login tidak lengkap terkirim. Coba lagi.",
        "The login form arrived incomplete. Try again.",
    ),
}


def _read_within(stream, want: int, seconds: float) -> bytes:
    """Up to ``want`` bytes of ``stream`` (fewer at its end); TimeoutError past ``seconds``.

    Under gevent the whole read runs under one ``gevent.Timeout``: a client
    sending a byte a second never resets it. Elsewhere (the threading server
    of the tests) the read is plain.
    """
    parts, got = [], 0
    deadline = time.monotonic() + seconds
    timeout = _gevent_timeout(seconds)
    try:
        if timeout is not None:
            timeout.start()
        while got < want:
            chunk = stream.read(min(65536, want - got))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError
    except BaseException as error:
        if timeout is not None and error is timeout:
            raise TimeoutError from None
        raise
    finally:
        if timeout is not None:
            timeout.close()
    return b"".join(parts)


def _gevent_timeout(seconds: float):
    try:
        from gevent import Timeout, monkey
    except ImportError:  # pragma: no cover  (gevent is a dependency)
        return None
    return Timeout(seconds) if monkey.is_module_patched("socket") else None


class _ClosingBody:
    """A refusal's body; once gunicorn has written it, the connection is shut.

    gunicorn keeps an HTTP/1.1 connection open after an answer with a length,
    and before the next request it reads the rest of the refused body, at the
    slow client's pace. Shutting the socket (``gunicorn.socket``) ends that.
    """

    def __init__(self, data: bytes, sock):
        self.data, self.sock = data, sock

    def __iter__(self):
        yield self.data

    def close(self):
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def init_app(app) -> None:
    app.wsgi_app = AdmissionGuard(app.wsgi_app, app)
    app.extensions["cat_admission"] = app.wsgi_app
