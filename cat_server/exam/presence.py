"""Which workstation holds an attempt: connect, disconnect, the second-browser rule, focus loss."""

from __future__ import annotations

from .. import txn
from ..errors import AlreadyConnected, NotInProgress, SessionEnded
from ..extensions import db, socketio
from ..models import Attempt, AuditEvent, audit, utcnow
from . import sessions
from .clock import credit_lost_process
from .sections import lock_attempt
from .signals import announce_seat
from .views import attempt_state, push_state


def mark_connected(
    attempt_id: int,
    sid: str,
    device: str | None = None,
    is_live=None,
    token=sessions.BY_SERVER,
    lost_since=None,
) -> tuple[Attempt, str | None]:
    """Record the workstation's socket for the proctor grid; return (attempt, replaced sid).

    The cookie's ``token`` must hold the attempt's session, not ended nor idle
    (SessionEnded). A second browser (another ``device`` id) is refused with
    AlreadyConnected while the first one's socket is live (``is_live(sid)``);
    the same browser coming back after a network drop replaces its old socket,
    which the caller then closes. Ending the session (sessions.py) clears the mark.
    A workstation whose old socket's process died (``lost_since(sid)``: since when)
    gets the seconds it was cut off credited (clock.credit_lost_process).
    """
    attempt = lock_attempt(attempt_id)
    try:
        sessions.check(attempt, token, utcnow())
    except SessionEnded:
        txn.rollback()
        raise
    old = attempt.connected_sid
    replaced = None
    if old and old != sid and is_live is not None and is_live(old):
        if device is None or device != attempt.connected_device:
            txn.rollback()
            raise AlreadyConnected()
        replaced = old
    if old and old != sid and lost_since is not None:
        since = lost_since(old)
        if since is not None:
            credit_lost_process(attempt, since)
    attempt.connected_sid = sid
    attempt.connected_device = device
    attempt.last_seen_at = utcnow()
    txn.commit()
    announce_seat(attempt.sitting_id, attempt.candidate_id)
    return attempt, replaced


def connect(
    attempt_id: int,
    sid: str,
    device: str | None,
    is_live,
    token=sessions.BY_SERVER,
    lost_since=None,
) -> tuple[dict, str | None]:
    """mark_connected, then the new socket's full state, with ``help``: (state, replaced sid)."""
    attempt, replaced = mark_connected(attempt_id, sid, device, is_live, token, lost_since)
    return with_help(attempt, attempt_state(attempt)), replaced


def credit_lost_connection(attempt_id: int, since, until) -> float:
    """The process that held the attempt's old socket died at ``since``; the workstation
    was back at ``until``: credit the seconds between and send the new countdown."""
    attempt = lock_attempt(attempt_id)
    seconds = credit_lost_process(attempt, since, until)
    if not seconds:
        txn.rollback()
        return 0.0
    txn.commit()
    push_state(attempt)
    announce_seat(attempt.sitting_id, attempt.candidate_id)
    return seconds


def mark_disconnected(attempt_id: int, sid: str) -> None:
    attempt = lock_attempt(attempt_id)
    if attempt.connected_sid == sid:  # a newer socket of the same attempt stays
        attempt.connected_sid = None
        attempt.last_seen_at = utcnow()
        txn.commit()
        announce_seat(attempt.sitting_id, attempt.candidate_id)
    else:
        txn.rollback()


def clear_connections() -> None:
    """On start-up of the only process: no socket of a previous run is still open.

    They were open until the restart, as far as anyone knows: seen now, so the
    idle time-out (sessions.py) counts from here and the pages reconnect.
    """
    db.session.execute(
        db.update(Attempt)
        .where(Attempt.connected_sid.is_not(None))
        .values(connected_sid=None, last_seen_at=utcnow())
    )
    txn.commit()


# An audit row for each of an attempt's first 50 focus losses, then at 64, 128, 256, ...:
# a page (or a script) sending thousands cannot fill the audit table (outsider check).
FOCUS_LOST_ROWS = 50


def note_focus_lost(attempt_id: int, token=sessions.BY_SERVER) -> int:
    """The workstation page reports that the exam tab or window lost focus: count it."""
    attempt = lock_attempt(attempt_id)
    sessions.check_token(attempt, token)
    attempt.n_focus_lost += 1
    n, seat = attempt.n_focus_lost, (attempt.sitting_id, attempt.candidate_id)
    if n <= FOCUS_LOST_ROWS or n & (n - 1) == 0:  # the count stays exact on the attempt
        audit(
            f"candidate:{attempt.candidate_id}",
            "focus_lost",
            sitting_id=attempt.sitting_id,
            attempt_id=attempt.id,
            n=n,
        )
    txn.commit()
    announce_seat(*seat)
    return n


def call_proctor(attempt_id: int, token=sessions.BY_SERVER) -> bool:
    """The candidate presses "Minta bantuan": audited; the seat lights up on every console.

    It stays lit until a proctor acknowledges it (``help_acknowledged``, the
    proctor side). Return False if a request is already waiting: a second
    press writes nothing.
    """
    attempt = lock_attempt(attempt_id)
    sessions.check_token(attempt, token)
    if attempt.status == "finished":  # the consoles drop a finished seat's help light
        raise NotInProgress(state=attempt_state(attempt))
    if help_waiting(attempt.id):
        txn.rollback()
        return False
    seat = (attempt.sitting_id, attempt.candidate_id)
    audit(
        f"candidate:{attempt.candidate_id}",
        "help_requested",
        sitting_id=seat[0],
        attempt_id=attempt.id,
    )
    txn.commit()
    announce_seat(*seat)
    return True


def help_waiting(attempt_id: int) -> bool:
    """True while the attempt's last help request has not been acknowledged."""
    last = db.session.execute(
        db.select(AuditEvent.action)
        .where(
            AuditEvent.attempt_id == attempt_id,
            AuditEvent.action.in_(("help_requested", "help_acknowledged")),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return last == "help_requested"


def help_call(attempt_id: int) -> dict | None:
    """The attempt's last help call, for its page: ``{"called_at", "answered_at"}`` (UTC).

    ``answered_at`` is None while the call waits. A call is the first press after
    the last answer: presses in between are the same call, and one answer closes it.
    None if the candidate never called.
    """
    call = None
    for action, at in db.session.execute(
        db.select(AuditEvent.action, AuditEvent.at)
        .where(
            AuditEvent.attempt_id == attempt_id,
            AuditEvent.action.in_(("help_requested", "help_acknowledged")),
        )
        .order_by(AuditEvent.id)
    ):
        if action == "help_requested":
            if call is None or call["answered_at"] is not None:
                call = {"called_at": at, "answered_at": None}
        elif call is not None and call["answered_at"] is None:
            call["answered_at"] = at
    if call is None:
        return None
    return {k: v.isoformat() if v is not None else None for k, v in call.items()}


def with_help(attempt: Attempt, state: dict) -> dict:
    """A full state for a page that (re)connects or re-syncs, with its help call: a page
    reloaded while its call waited learns both that it waits and when it was answered."""
    state["help"] = None if attempt.status == "finished" else help_call(attempt.id)
    return state


def tell_help_answered(attempt_id: int, at) -> None:
    """Tell the candidate's page (after the commit) that a proctor has seen the help request."""
    socketio.emit(
        "help_answered",
        {"attempt": attempt_id, "at": at.isoformat()},
        namespace="/exam",
        to=f"attempt:{attempt_id}",
    )
