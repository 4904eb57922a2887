"""Bounds on websockets: per client address and in all, and none left idle without a namespace.

A LAN machine (a candidate's workstation, an accomplice's laptop) can open
engine.io sessions in a loop; each costs memory and a file descriptor, and
gunicorn's ``--worker-connections`` is shared with every HTTP request. So a new
engine.io session (a ``/socket.io/`` request without ``sid``) is refused with
429 beyond ``MAX_SOCKETS_PER_ADDRESS`` open sessions from its address, and with
503 beyond ``MAX_SOCKETS`` in the process; ``/healthz``, logins and the sockets
of running exams are untouched. A session that has not joined a namespace
(``/exam``, ``/proctor``, ``/board``) within ``ANON_SOCKET_GRACE`` seconds is
ended by ``end_anonymous`` (a background task, tasks.py): a real client joins
in its first round trip.

The address is the socket's ``REMOTE_ADDR``: behind nginx set
``CAT_TRUSTED_PROXIES=1`` so it is the workstation's, not nginx's. A centre
whose workstations reach the server through one NAT address must raise
``CAT_MAX_SOCKETS_PER_ADDRESS`` above its seat count (or set it to 0, off).
"""

from __future__ import annotations

import json
import time

from . import refusals
from .extensions import socketio

MESSAGE = "Terlalu banyak koneksi dari komputer ini."
MESSAGE_EN = "Too many connections from this computer."


def _open_sessions():
    """{engine.io sid: environ} of this process's open sessions."""
    return socketio.server.environ


class SocketGuard:
    """Wraps ``app.wsgi_app``: refuses new engine.io sessions past the bounds."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app = wsgi_app
        self.app = app
        self.refused = 0

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/socket.io"):
            return self.wsgi_app(environ, start_response)
        if "sid=" not in environ.get("QUERY_STRING", ""):
            refusal = self._refusal(environ.get("REMOTE_ADDR"))
            if refusal is not None:
                self.refused += 1
                return self._refuse(start_response, *refusal)
        if environ.get("HTTP_ORIGIN"):
            return self._watch_origin(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _watch_origin(self, environ, start_response):
        """Pass the request to engine.io; count its refusal of a foreign Origin (refusals.py).

        python-engineio refuses it with 400 and the body "Not an accepted
        origin."; a 400 is short, so its body is read here to tell it from the others.
        """
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"] = status
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        if not seen.get("status", "").startswith("400"):
            return body
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
        if b"Not an accepted origin" in data:
            refusals.count(
                self.app,
                refusals.FOREIGN_ORIGIN,
                environ.get("REMOTE_ADDR"),
                origin=environ.get("HTTP_ORIGIN"),
            )
        return [data]

    def _refusal(self, address):
        per_address = int(self.app.config.get("MAX_SOCKETS_PER_ADDRESS") or 0)
        total = int(self.app.config.get("MAX_SOCKETS") or 0)
        sessions = _open_sessions()
        if total and len(sessions) >= total:
            return "503 Service Unavailable", "busy"
        if per_address and address:
            mine = sum(1 for env in list(sessions.values()) if env.get("REMOTE_ADDR") == address)
            if mine >= per_address:
                return "429 Too Many Requests", "too_many_sockets"
        return None

    @staticmethod
    def _refuse(start_response, status, code):
        data = json.dumps(
            {"ok": False, "error": code, "message": MESSAGE, "message_en": MESSAGE_EN}
        ).encode()
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                ("Retry-After", "10"),
                ("Cache-Control", "no-store"),
            ],
        )
        return [data]


def end_anonymous(first_seen: dict, grace: float, now: float | None = None) -> int:
    """End the sessions that joined no namespace within ``grace`` seconds; return how many.

    ``first_seen`` ({sid: time}) is kept by the caller between sweeps.
    """
    now = time.monotonic() if now is None else now
    server = socketio.server
    manager = server.manager
    open_now = set(_open_sessions())
    for sid in list(first_seen):
        if sid not in open_now:
            del first_seen[sid]
    ended = 0
    for sid in open_now:
        if any(manager.sid_from_eio_sid(sid, ns) is not None for ns in manager.get_namespaces()):
            first_seen.pop(sid, None)
            continue
        seen = first_seen.setdefault(sid, now)
        if now - seen >= grace:
            # engine.io's own disconnect waits until the client polls for the
            # CLOSE packet, which an idle script never does: abort instead
            socket = server.eio.sockets.pop(sid, None)
            if socket is not None:
                socket.close(wait=False, abort=True)
            first_seen.pop(sid, None)
            ended += 1
    return ended


def init_app(app) -> None:
    app.wsgi_app = SocketGuard(app.wsgi_app, app)
    app.extensions["cat_socket_guard"] = app.wsgi_app
