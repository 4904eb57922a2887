"""Candidate sessions on the server: the attempt's token in the cookie, its end, the idle time-out.

At login the cookie gets the attempt's ``session_token``. Every exam page, every
/exam connect and every socket event checks it against the attempt's row (the
answer path on the row it locks anyway: no statement more). ``end`` gives the
attempt a new token (the candidate's logout, the proctor's "end this
workstation's session"; ``revoke`` inside a PIN reset or a seat move): from
that commit on every cookie issued before is refused, on every process, and
``close_sockets`` tells the attempt's open pages why and disconnects them.

Idle: a session with no /exam socket open and nothing seen for
CANDIDATE_IDLE_TIMEOUT seconds (``Attempt.last_seen_at``: login, connect,
disconnect) is refused. An open exam page is never idle, however long the
candidate thinks over an item. The next login after an idle time-out gives the
attempt a new token, so an old cookie does not come back with it.
"""

from __future__ import annotations

from datetime import timedelta
from secrets import compare_digest

from flask import current_app, flash, request, session

from .. import txn
from ..errors import NotFound, SessionEnded, SessionIdle, is_id
from ..extensions import db, socketio
from ..models import Attempt, audit, new_session_token, utcnow
from .signals import announce_seat

# cookie keys of a candidate's session (the rest of the cookie is left alone)
COOKIE_KEYS = ("attempt_id", "sitting_id", "token")
# what the exam page gets before the server closes its socket
ENDED_EVENT = "session_ended"
# the attempt row locked and read afresh (its workstation may have changed since it was loaded)
_LOCK_FRESH = (
    db.select(Attempt)
    .where(Attempt.id == db.bindparam("id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


class _ByServer:
    def __repr__(self) -> str:
        return "BY_SERVER"


# The ``token`` of a service call made by the server itself (a tool, a test), not
# for a candidate's cookie: nothing to check. A cookie without a token is None.
BY_SERVER = _ByServer()


def holds(attempt: Attempt, token) -> bool:
    """Does a cookie with ``token`` hold the attempt's session? (BY_SERVER: yes.)"""
    if token is BY_SERVER:
        return True
    return (
        isinstance(token, str)
        and bool(token)
        and bool(attempt.session_token)
        and compare_digest(token, attempt.session_token)
    )


def check_token(attempt: Attempt, token) -> None:
    """Raise SessionEnded unless the cookie's token is the attempt's (every socket event)."""
    if not holds(attempt, token):
        raise SessionEnded()


def is_idle(attempt: Attempt, now) -> bool:
    """No socket open and nothing seen for CANDIDATE_IDLE_TIMEOUT seconds (0: never idle)."""
    limit = float(current_app.config.get("CANDIDATE_IDLE_TIMEOUT") or 0)
    if limit <= 0 or attempt.connected_sid is not None:
        return False
    return now - (attempt.last_seen_at or attempt.created_at) > timedelta(seconds=limit)


def check(attempt: Attempt, token, now) -> None:
    """A page or a new socket: SessionEnded for an old token, SessionIdle for an idle session."""
    check_token(attempt, token)
    if token is not BY_SERVER and is_idle(attempt, now):
        raise SessionIdle()


def begin(attempt: Attempt, now) -> None:
    """At login (the caller commits): the session is seen now; an idle one gets a new token.

    The cookie then takes ``attempt.session_token``. A login while the session is
    live shares its token: the second-browser rule (presence.py) decides which
    workstation holds the attempt.
    """
    if is_idle(attempt, now):
        attempt.session_token = new_session_token()
    attempt.last_seen_at = now


def check_cookie() -> None:
    """Before every exam page: a cookie whose session ended loses its candidate keys.

    The exam page and the login page then say why (in a flash), once.
    """
    attempt_id = session.get("attempt_id")
    if attempt_id is None or request.endpoint == "exam.healthz":  # /healthz reads no database
        return
    attempt = db.session.get(Attempt, attempt_id) if is_id(attempt_id) else None
    try:
        if attempt is None:
            raise SessionEnded()
        check(attempt, session.get("token"), utcnow())
    except SessionEnded as error:
        for key in COOKIE_KEYS:
            session.pop(key, None)
        if request.method == "GET" and request.endpoint in ("exam.take", "exam.login"):
            flash(f"{error.message} / {error.message_en}", "error")


def _lock_fresh(attempt_id: int) -> Attempt:
    attempt = db.session.execute(_LOCK_FRESH, {"id": attempt_id}).scalar_one_or_none()
    if attempt is None:
        raise NotFound("Ujian tidak ditemukan.", "Attempt not found.")
    return attempt


def _revoke(attempt: Attempt) -> str | None:
    attempt.session_token = new_session_token()
    old, attempt.connected_sid = attempt.connected_sid, None
    return old


def revoke(attempt_id: int) -> str | None:
    """Inside a PIN reset or a seat move: a new token and no workstation for the attempt.

    The caller audits and commits, then calls ``close_sockets`` with the socket
    id returned (the workstation that held the attempt, if any).
    """
    return _revoke(_lock_fresh(attempt_id))


def end(attempt_id: int, action: str, *, actor=None, reason=None, token=BY_SERVER) -> bool:
    """End the attempt's session: every cookie and socket of it, at once. The exam goes on.

    Audited as ``action`` by ``actor`` (None: the candidate) with ``reason``.
    ``token``: the candidate's own logout ends only the session its cookie
    holds (an old cookie's logout changes nothing). True if it ended.
    """
    attempt = _lock_fresh(attempt_id)
    if not holds(attempt, token):
        txn.rollback()
        return False
    sid = _revoke(attempt)
    actor = actor or f"candidate:{attempt.candidate_id}"
    audit(actor, action, sitting_id=attempt.sitting_id, attempt_id=attempt.id, reason=reason)
    seat = (attempt.sitting_id, attempt.candidate_id)
    txn.commit()
    close_sockets(attempt_id, sid)
    announce_seat(*seat)
    return True


def close_sockets(attempt_id: int, sid: str | None = None) -> None:
    """After the commit: tell the attempt's open pages why, then close their sockets.

    The event and the room's closing go to every process (the message queue),
    in this order; the workstation's own socket (``sid``, wherever it is) and
    any other of the room on this process are disconnected. A socket of the
    room on another process stays open until it goes, gets no more ``state``,
    and every event it sends is refused by the token check.
    """
    room = f"attempt:{attempt_id}"
    error = SessionEnded()
    socketio.emit(ENDED_EVENT, error.to_dict(), namespace="/exam", to=room)
    local = [s for s, _ in socketio.server.manager.get_participants("/exam", room)]
    socketio.close_room(room, namespace="/exam")
    for each in dict.fromkeys([*local, sid]):
        if each:
            socketio.server.disconnect(each, namespace="/exam")
