"""Shared helpers for Socket.IO handlers: error replies and background tasks."""

from __future__ import annotations

import functools

from flask import abort, current_app
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import Namespace, emit
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .errors import BadPayload, ExamError
from .extensions import db

# down, restarting, a conflict with another transaction, or (SQLite) no free
# connection within pool_timeout: the client keeps its answer and sends it again
DB_UNAVAILABLE = (DBAPIError, PoolTimeout)
RETRY_REPLY = {
    "ok": False,
    "error": "retry",
    "message": "Server sibuk, jawaban akan dikirim ulang otomatis.",
    "message_en": "Server busy; the answer will be re-sent automatically.",
}


def match_socket_path(app) -> None:
    """A URL rule for the Socket.IO path, so that every socket event's request context matches.

    Flask-SocketIO runs each event in a request context built from the
    connection's handshake request (``/socket.io/``). With no rule for that path,
    each context failed to match a route and kept werkzeug's NotFound (or
    WebsocketMismatch) with its traceback: a reference cycle per event that
    only the garbage collector frees. At 400 answers/s those cycles were most
    of what the collector found, and its full collections took 80-130 ms each,
    several times a minute (docs/PERFORMANCE.md). The engine.io middleware
    answers this path before Flask sees it: the view never runs for a real
    request.
    """

    def transport_only():
        abort(404)

    app.add_url_rule(
        "/socket.io/", endpoint="socketio_transport", view_func=transport_only, strict_slashes=False
    )
    # the websocket transport's handshake carries "Upgrade: websocket": a rule of its own
    app.add_url_rule(
        "/socket.io/",
        endpoint="socketio_transport",
        view_func=transport_only,
        strict_slashes=False,
        websocket=True,
    )


class SocketSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, except inside a socket's events after its first one.

    Flask-SocketIO pushes a request context for every event and Flask opens the
    session for it, decoding and verifying the handshake's cookie again, only
    for Flask-SocketIO to replace it at once with the socket's own copy, which
    it keeps in the handshake's environ. Handing that copy back here saves the
    decoding (a few per cent of an answer's CPU); what the handler sees is
    unchanged.
    """

    def open_session(self, app, request):
        saved = request.environ.get("saved_session")
        if saved is not None:
            return saved
        return super().open_session(app, request)


def acked(handler):
    """Turn an ExamError into ``{"ok": False, ...}`` plus an ``exam_error`` event.

    A database that is down gives ``retry`` (never an acknowledgement), so the
    client keeps its answer and sends it again. An event with no payload reaches
    the handler as None; one with several arguments is refused (``bad_payload``).
    """

    @functools.wraps(handler)
    def wrapper(namespace, *args):
        try:
            # a client may send no payload or several: the handler sees one, or a refusal
            if len(args) > 1:
                raise BadPayload(
                    "Satu data per pesan.", "Expected one payload (an object) per event."
                )
            return handler(namespace, args[0] if args else None)
        except ExamError as error:
            db.session.rollback()
            reply = error.to_dict()
        except DB_UNAVAILABLE:
            db.session.rollback()
            current_app.logger.exception("database unavailable in %s", handler.__name__)
            reply = dict(RETRY_REPLY)
        emit("exam_error", reply)
        return reply

    return wrapper


class AckedNamespace(Namespace):
    """A namespace whose unknown events get an error ack (``unknown_event``), never silence.

    Flask-SocketIO drops an event with no ``on_<name>`` handler and acknowledges
    it with nothing; a client waiting on the ack would learn nothing (SECURITY.md,
    "Socket.IO events").
    """

    def trigger_event(self, event, *args):
        if event not in ("connect", "disconnect") and not hasattr(self, f"on_{event or ''}"):
            return {
                "ok": False,
                "error": "unknown_event",
                "message": "Jenis pesan tidak dikenal.",
                "message_en": "Unknown event.",
            }
        return super().trigger_event(event, *args)
