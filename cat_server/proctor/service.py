"""Proctor rules: which sittings a user may watch, and seat snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_login import current_user

from .. import lockout
from ..errors import Forbidden
from ..exam import attempts, catalog
from ..extensions import db
from ..models import (
    Attempt,
    AuditEvent,
    Candidate,
    Response,
    Seat,
    Sitting,
    User,
    sitting_proctor,
    utcnow,
)
from . import personfit

STATUSES = ("absent", "waiting", "answering", "paused", "disconnected", "finished")
MANY_MOVES = 2  # seat moves from which a seat is flagged
# every flag a proctor can acknowledge: the snapshot's own and the console's clock-based ones
FLAGS = (
    "help",
    "disconnected",
    "idle",
    "fast",
    "many_moves",
    "focus_lost",
    "person_fit",
    "locked_out",
)
# flags about the live seat only: gone once the attempt is finished
LIVE_ONLY = ("help", "disconnected", "idle", "fast", "locked_out")
# audit actions the snapshot reads per attempt (seat moves, help requests, acknowledgements,
# a login after the start)
NOTE_ACTIONS = (
    "seat_moved",
    "help_requested",
    "help_acknowledged",
    "flag_acknowledged",
    "late_login",
)


def is_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.role in ("admin", "proctor")


def visible_sittings(user: User) -> list[Sitting]:
    query = db.select(Sitting).order_by(Sitting.id)
    if not user.is_admin:
        query = query.join(sitting_proctor).where(sitting_proctor.c.user_id == user.id)
    return db.session.execute(query).scalars().all()


def get_watchable(sitting_id: int, user=None) -> Sitting:
    """The sitting, if ``user`` (default: the logged-in one) may watch it; else 403/404."""
    user = user or current_user
    sitting = attempts.get_sitting(sitting_id)
    if not is_staff(user):
        raise Forbidden()
    if not user.is_admin and user not in sitting.proctors:
        raise Forbidden("Anda bukan pengawas sesi ini.", "You are not a proctor of this sitting.")
    return sitting


def seat_status(attempt: Attempt | None) -> str:
    """absent / waiting / answering / paused / disconnected / finished, as the grid shows it."""
    if attempt is None:
        return "absent"
    if attempt.status == "finished":
        return "finished"
    if attempt.paused_at is not None:
        return "paused"
    if attempt.connected_sid is None:
        return "disconnected"
    return "answering" if attempt.status == "in_progress" else "waiting"


def sitting_snapshot(sitting_id: int, candidate_ids=None) -> dict:
    """The sitting's header and the seats of ``candidate_ids`` (all when None), as snapshots."""
    sitting = db.session.get(Sitting, sitting_id)
    now = utcnow()
    query = (
        db.select(Candidate, Seat.label, Attempt)
        .outerjoin(Seat, Candidate.seat_id == Seat.id)
        .outerjoin(Attempt, Attempt.candidate_id == Candidate.id)
        .where(Candidate.sitting_id == sitting_id)
        .order_by(Seat.position, Candidate.registration_no)
    )
    if candidate_ids is not None:
        query = query.where(Candidate.id.in_(candidate_ids))
    rows = db.session.execute(query).all()
    attempt_ids = [a.id for _, _, a in rows if a is not None]
    last_answers = _last_answers(attempt_ids)
    notes = _notes(sitting_id, attempt_ids)
    fits = personfit.lz_of_attempts_cached(
        {
            a.id: a.n_responses
            for _, _, a in rows
            if a is not None and a.n_answered >= personfit.MIN_ITEMS
        }
    )
    # cached per process (sections never change): no query per seat or per flush
    sections = catalog.exam_sections(sitting.exam_id)
    # two storage reads while no account of the sitting had wrong PINs enough to show
    lockouts = lockout.states(sitting_id, (c.registration_no for c, _, _ in rows))
    seats = []
    for candidate, label, attempt in rows:
        remaining = section_remaining = section = None
        if attempt is not None and attempt.status == "in_progress":
            clock = attempt.paused_at or now  # a paused clock stands still
            remaining = _seconds_left(attempt.deadline_at, clock)
            # the current section's own clock; pauses and extensions move it with the exam's
            section_remaining = _seconds_left(attempt.section_deadline_at, clock)
            if 1 <= attempt.section_index <= len(sections):
                current = sections[attempt.section_index - 1]
                section = {
                    "index": attempt.section_index,
                    "count": len(sections),
                    "code": current.code,
                    "name": current.name,
                }
        note = notes.get(attempt.id, _Notes()) if attempt else _Notes()
        n_moves = note.moves
        focus_lost = attempt.n_focus_lost if attempt else 0
        flags = []
        if note.help_at is not None:
            flags.append("help")
        if n_moves >= MANY_MOVES:
            flags.append("many_moves")
        if focus_lost:
            flags.append("focus_lost")
        fit = fits.get(attempt.id) if attempt else None
        if fit is not None and fit < personfit.THRESHOLD:
            flags.append("person_fit")
        locked = lockouts.get(candidate.registration_no)
        if locked is not None:
            flags.append("locked_out")
        finished = attempt is not None and attempt.status == "finished"
        if finished:  # nothing live is left to look at: only what the record keeps
            flags = [f for f in flags if f not in LIVE_ONLY]
        counted = {"focus_lost": focus_lost, "many_moves": n_moves}
        acks = {
            flag: {"by": ack["by"], "at": _iso(ack["at"])}
            for flag, ack in note.acks.items()
            # a count that grew since the acknowledgement is something new to look at
            if ack.get("value") is None or ack["value"] >= counted.get(flag, 0)
        }
        last_answer = last_answers.get(attempt.id) if attempt else None
        seats.append(
            {
                "candidate": candidate.id,
                "seat": label,
                "registration_no": candidate.registration_no,
                "name": candidate.name,
                "status": seat_status(attempt),
                "answered": attempt.n_answered if attempt else 0,
                "total": attempt.n_items if attempt else 0,
                "remaining_s": remaining,
                "section": section,
                "section_remaining_s": section_remaining,
                "last_seen": attempt.last_seen_at.isoformat()
                if attempt and attempt.last_seen_at
                else None,
                "connected": bool(attempt and attempt.connected_sid),
                "paused": bool(attempt and attempt.paused_at),
                "started_at": _iso(attempt.started_at if attempt else None),
                "last_answer_at": _iso(last_answer),
                "finish_reason": attempt.finish_reason if attempt else None,
                "moves": n_moves,
                "focus_lost": focus_lost,
                "lz": fit,
                "lockout": locked,
                "flags": flags,
                "help_at": _iso(note.help_at),
                "acks": acks,
                # came after the start: when, how late, and the time the exam gave them
                "late": {"started_at": _iso(attempt.started_at), **note.late}
                if note.late
                else None,
            }
        )
    counts = dict.fromkeys((*STATUSES, "to_start", "to_start_offline", "unfinished"), 0)
    for status, n in _status_counts(sitting_id):
        counts[status] += n
    # read before the rollback: after it the sitting would be loaded again (one
    # more statement per flush)
    header = {
        "id": sitting.id,
        "name": sitting.name,
        "status": sitting.status,
        "room": sitting.room,
        "paused": sitting.paused_at is not None,
        "board": bool(sitting.exam.board_enabled),
    }
    db.session.rollback()  # read-only: release the connection promptly
    return {
        "sitting": header,
        "server_time": now.isoformat(),
        "full": candidate_ids is None,
        "counts": counts,
        "seats": seats,
    }


def sitting_lockouts(sitting_id: int) -> list[dict]:
    """The sitting's candidates whose login is locked out or slowed, by seat (``lockout.state``)."""
    rows = db.session.execute(
        db.select(Candidate.id, Candidate.registration_no, Candidate.name, Seat.label)
        .outerjoin(Seat, Candidate.seat_id == Seat.id)
        .where(Candidate.sitting_id == sitting_id)
        .order_by(Seat.position, Candidate.registration_no)
    ).all()
    db.session.rollback()
    found = lockout.states(sitting_id, (number for _, number, _, _ in rows))
    return [
        {"candidate": cid, "seat": label, "registration_no": number, "name": name, **found[number]}
        for cid, number, name, label in rows
        if number in found
    ]


def _seconds_left(deadline, clock):
    return None if deadline is None else max(0.0, round((deadline - clock).total_seconds(), 1))


def _iso(value):
    return value.isoformat() if value is not None else None


def _last_answers(attempt_ids) -> dict:
    """attempt id -> time of its latest answer (the idle flag counts from it)."""
    if not attempt_ids:
        return {}
    rows = db.session.execute(
        db.select(Response.attempt_id, db.func.max(Response.answered_at))
        .where(Response.attempt_id.in_(attempt_ids))
        .group_by(Response.attempt_id)
    ).all()
    return {a: t for a, t in rows if t is not None}  # max() keeps the UTC column type


@dataclass
class _Notes:
    """What the audit log says about one attempt for the grid."""

    moves: int = 0  # approved seat moves
    help_at: datetime | None = None  # a help request no proctor has acknowledged yet
    acks: dict = field(default_factory=dict)  # flag -> {"by", "at", "value"}, the latest
    late: dict | None = None  # logged in after the start: {"late_s", "granted_s", "mode"}


def _notes(sitting_id: int, attempt_ids) -> dict[int, _Notes]:
    """attempt id -> its seat moves, open help request and flag acknowledgements: one read."""
    if not attempt_ids:
        return {}
    notes: dict[int, _Notes] = {}
    rows = db.session.execute(
        db.select(AuditEvent.attempt_id, AuditEvent.action, AuditEvent.at, AuditEvent.data)
        .where(
            AuditEvent.sitting_id == sitting_id,
            AuditEvent.action.in_(NOTE_ACTIONS),
            AuditEvent.attempt_id.in_(attempt_ids),
        )
        .order_by(AuditEvent.id)
    )
    for attempt_id, action, at, data in rows:
        note = notes.setdefault(attempt_id, _Notes())
        data = data or {}
        if action == "seat_moved":
            note.moves += 1
        elif action == "help_requested":
            note.help_at = note.help_at or at  # the first unanswered press: waiting since then
        elif action == "late_login":
            note.late = {k: data.get(k) for k in ("late_s", "granted_s", "mode")}
        elif action == "help_acknowledged":
            note.help_at = None
            note.acks["help"] = {"by": data.get("by"), "at": at}
        else:
            note.acks[data.get("flag")] = {
                "by": data.get("by"),
                "at": at,
                "value": data.get("value"),
            }
    return notes


def _status_counts(sitting_id: int):
    rows = db.session.execute(
        db.select(
            Attempt.status,
            Attempt.connected_sid.is_(None),
            Attempt.paused_at.is_(None),
            db.func.count(),
        )
        .where(Attempt.sitting_id == sitting_id)
        .group_by(Attempt.status, Attempt.connected_sid.is_(None), Attempt.paused_at.is_(None))
    ).all()
    enrolled = db.session.execute(
        db.select(db.func.count()).select_from(Candidate).where(Candidate.sitting_id == sitting_id)
    ).scalar_one()
    present = 0
    for status, no_socket, running, n in rows:
        present += n
        # what "Mulai ujian" and "Akhiri sesi" will act on, whatever the connection
        if status == "waiting":
            yield "to_start", n
            if no_socket:  # logged in, but the page is not connected: its clock starts too
                yield "to_start_offline", n
        if status != "finished":
            yield "unfinished", n
        if status == "finished":
            yield "finished", n
        elif not running:
            yield "paused", n
        elif no_socket:
            yield "disconnected", n
        else:
            yield ("answering" if status == "in_progress" else "waiting"), n
    yield "absent", enrolled - present
