"""Proctor actions on one seat or a whole sitting, each with who and why in the audit log.

The Socket.IO handlers in events.py only parse the payload; these functions
check that the user may act on the sitting (``get_watchable``: 403 otherwise),
that the candidate belongs to it, that a reason is given, and then call
interventions.py (the exam's clock rules from exam/sections.py), which commits,
pushes the candidates' new ``state`` and marks the proctor feed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import lockout, security
from ..errors import MAX_ID, BadPayload, Forbidden, NotFound, NotInProgress
from ..exam import attempts, presence
from ..exam import sessions as candidate_sessions
from ..extensions import db
from ..models import Attempt, AuditEvent, Candidate, Incident, audit, utcnow
from . import board, feed, interventions, service
from .service import get_watchable

INCIDENT_CATEGORIES = ("power", "network", "hardware", "health", "misconduct", "other")
MAX_EXTEND_MIN = 180
MAX_TEXT = 2000


def actor_of(user) -> str:
    return f"user:{user.id}"


# --- payloads --------------------------------------------------------------


def _int(data, name, *, low=1, high=MAX_ID, required=True):
    value = data.get(name)
    if value is None and not required:
        return None
    if type(value) is not int or value < low or (high is not None and value > high):
        expected = f"an integer from {low}" + (f" to {high}" if high is not None else "")
        raise BadPayload(
            f"'{name}' harus bilangan bulat yang valid.",
            f"'{name}' must be {expected}.",
            field=name,
        )
    return value


def _text(data, name, what_id, what_en) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadPayload(f"{what_id} wajib diisi.", f"{what_en} is required.", field=name)
    if len(value) > MAX_TEXT:
        raise BadPayload(
            f"{what_id} terlalu panjang (maks. {MAX_TEXT} karakter).",
            f"{what_en} is too long (at most {MAX_TEXT} characters).",
            field=name,
        )
    return value.strip()


@dataclass(frozen=True)
class ActionIn:
    """A validated proctor action: the sitting, maybe a candidate, the reason and extras."""

    sitting: int
    reason: str
    candidate: int | None = None
    minutes: int | None = None
    seat: str | None = None
    category: str | None = None

    @classmethod
    def parse(cls, data, *, seat_action=False, minutes=False, reason="reason") -> ActionIn:
        if not isinstance(data, dict):
            raise BadPayload()
        values = {"sitting": _int(data, "sitting", low=0)}
        if seat_action:
            values["candidate"] = _int(data, "candidate", low=0)
        if minutes:
            values["minutes"] = _int(data, "minutes", high=MAX_EXTEND_MIN)
        if reason == "reason":
            values["reason"] = _text(data, "reason", "Alasan", "A reason")
        else:  # incident notes: the note itself is the why
            values["reason"] = _text(data, "text", "Catatan kejadian", "The incident note")
        return cls(**values)

    @classmethod
    def parse_incident(cls, data) -> ActionIn:
        """{sitting, candidate?, category, text}: the note itself is the why."""
        action = cls.parse(data, reason="text")
        candidate = _int(data, "candidate", low=0, required=False)
        category = data.get("category")
        if category not in INCIDENT_CATEGORIES:
            raise BadPayload(
                "Kategori kejadian tidak dikenal.",
                f"Unknown incident category; expected one of {', '.join(INCIDENT_CATEGORIES)}.",
                field="category",
            )
        return cls(
            sitting=action.sitting, reason=action.reason, candidate=candidate, category=category
        )


# --- lookups ---------------------------------------------------------------


def _candidate(sitting_id: int, candidate_id: int) -> Candidate:
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None or candidate.sitting_id != sitting_id:
        raise NotFound("Peserta tidak ditemukan di sesi ini.", "No such candidate in this sitting.")
    return candidate


def _attempt_id(sitting_id: int, candidate_id: int) -> int:
    candidate = _candidate(sitting_id, candidate_id)
    if candidate.attempt is None:
        raise NotFound(
            "Peserta ini belum masuk (belum ada ujian).",
            "This candidate has not logged in yet (no attempt).",
        )
    return candidate.attempt.id


# --- actions ---------------------------------------------------------------


def open_check_in(user, action: ActionIn) -> None:
    """Let the sitting's candidates log in (and wait for the start) from now on."""
    get_watchable(action.sitting, user)
    attempts.open_check_in(action.sitting, actor_of(user), action.reason)


def pause_seat(user, action: ActionIn) -> None:
    get_watchable(action.sitting, user)
    interventions.pause_attempt(
        _attempt_id(action.sitting, action.candidate), actor_of(user), action.reason
    )


def resume_seat(user, action: ActionIn) -> None:
    sitting = get_watchable(action.sitting, user)
    attempt_id = _attempt_id(action.sitting, action.candidate)
    if sitting.paused_at is not None:
        raise NotInProgress(
            "Seluruh sesi sedang dijeda; lanjutkan sesinya.",
            "The whole sitting is paused; resume the sitting.",
        )
    interventions.resume_attempt(attempt_id, actor_of(user), action.reason)


def pause_sitting(user, action: ActionIn) -> int:
    get_watchable(action.sitting, user)
    return len(interventions.pause_sitting(action.sitting, actor_of(user), action.reason))


def resume_sitting(user, action: ActionIn) -> int:
    get_watchable(action.sitting, user)
    return len(interventions.resume_sitting(action.sitting, actor_of(user), action.reason))


def extend_seat(user, action: ActionIn) -> None:
    get_watchable(action.sitting, user)
    interventions.extend_attempt(
        _attempt_id(action.sitting, action.candidate), action.minutes, actor_of(user), action.reason
    )


def extend_sitting(user, action: ActionIn) -> int:
    get_watchable(action.sitting, user)
    return len(
        interventions.extend_sitting(action.sitting, action.minutes, actor_of(user), action.reason)
    )


def end_seat(user, action: ActionIn) -> None:
    get_watchable(action.sitting, user)
    interventions.end_attempt(
        _attempt_id(action.sitting, action.candidate), actor_of(user), action.reason
    )


def end_sitting(user, action: ActionIn) -> int:
    get_watchable(action.sitting, user)
    return len(interventions.end_sitting(action.sitting, actor_of(user), action.reason))


def move_seat(user, action: ActionIn, seat_label: str | None, add: bool = False) -> None:
    """Approve that the candidate continues on another workstation (optionally a new seat).

    ``add``: the label is a spare seat to add to the room now.
    """
    get_watchable(action.sitting, user)
    if seat_label is not None and (not isinstance(seat_label, str) or len(seat_label) > 20):
        raise BadPayload("Label kursi tidak valid.", "Invalid seat label.", field="seat")
    if not isinstance(add, bool):
        raise BadPayload(field="add_seat")
    interventions.move_seat(
        _attempt_id(action.sitting, action.candidate),
        (seat_label or "").strip() or None,
        actor_of(user),
        action.reason,
        add=add,
    )


def free_seats(user, data) -> list[str]:
    """The labels of the sitting's free seats, for a proctor who may watch it."""
    if not isinstance(data, dict):
        raise BadPayload()
    sitting_id = _int(data, "sitting")
    get_watchable(sitting_id, user)
    return interventions.free_seats(sitting_id)


def reset_pin(user, action: ActionIn) -> str:
    """A new PIN for one candidate, returned once (only its hash is stored); lifts the lock-out.

    The session the old PIN opened ends with it: every workstation logs in again.
    """
    get_watchable(action.sitting, user)
    candidate = _candidate(action.sitting, action.candidate)
    pin = security.new_pin()
    candidate.pin_hash = security.hash_pin(pin)
    lockout.lift(lockout.candidate(action.sitting, candidate.registration_no), candidate.id)
    attempt_id = candidate.attempt.id if candidate.attempt else None
    sid = candidate_sessions.revoke(attempt_id) if attempt_id is not None else None
    audit(
        actor_of(user),
        "pin_reset",
        sitting_id=action.sitting,
        attempt_id=attempt_id,
        reason=action.reason,
        candidate=candidate.id,
    )
    db.session.commit()
    if attempt_id is not None:
        candidate_sessions.close_sockets(attempt_id, sid)
        feed.seat_changed(action.sitting, candidate.id)
    return pin


def lift_lockout(user, action: ActionIn) -> bool:
    """Let the candidate log in again from every address: their wrong PINs are forgotten.

    Audited with the reason and how many wrong PINs there were (0: nothing to
    lift); False then. The PIN stays the same (reset_pin lifts too).
    """
    get_watchable(action.sitting, user)
    candidate = _candidate(action.sitting, action.candidate)
    account = lockout.candidate(action.sitting, candidate.registration_no)
    locked = lockout.state(account)
    audit(
        actor_of(user),
        "lockout_lifted",
        sitting_id=action.sitting,
        attempt_id=candidate.attempt.id if candidate.attempt else None,
        reason=action.reason,
        candidate=candidate.id,
        failures=locked["failures"] if locked else 0,
    )
    db.session.flush()  # a database that is down refuses here, before anything is lifted
    lockout.lift(account, candidate.id)
    db.session.commit()
    return locked is not None


def end_session(user, action: ActionIn) -> None:
    """End one workstation's session: its cookie and socket stop working; the exam goes on.

    The candidate logs in again with the PIN, here or at another workstation.
    """
    get_watchable(action.sitting, user)
    candidate_sessions.end(
        _attempt_id(action.sitting, action.candidate),
        "session_ended",
        actor=actor_of(user),
        reason=action.reason,
    )


def note_incident(user, action: ActionIn) -> Incident:
    """Write an incident note (category, text, optional candidate) and audit it."""
    get_watchable(action.sitting, user)
    candidate = None
    if action.candidate is not None:
        candidate = _candidate(action.sitting, action.candidate)
    incident = Incident(
        sitting_id=action.sitting,
        candidate_id=candidate.id if candidate else None,
        category=action.category,
        text=action.reason,
        actor=actor_of(user),
    )
    db.session.add(incident)
    db.session.flush()
    audit(
        actor_of(user),
        "incident_noted",
        sitting_id=action.sitting,
        attempt_id=candidate.attempt.id if candidate and candidate.attempt else None,
        reason=action.reason,
        category=action.category,
        incident=incident.id,
        candidate=candidate.id if candidate else None,
    )
    db.session.commit()
    if candidate is not None:
        feed.seat_changed(action.sitting, candidate.id)
    return incident


def acknowledge(user, data) -> dict:
    """A proctor has looked at a seat's flag (or answered its help request): who and when, audited.

    ``{sitting, candidate, flag, note?}``: the flag stays on the tile, muted, and
    leaves the "Perlu dicek" count; a help request goes out. A count flag
    (focus_lost, many_moves) comes back when the count grows past the
    acknowledged one.
    """
    if not isinstance(data, dict):
        raise BadPayload()
    sitting_id = _int(data, "sitting", low=0)
    candidate_id = _int(data, "candidate", low=0)
    flag = data.get("flag")
    if flag not in service.FLAGS:
        raise BadPayload(
            "Tanda tidak dikenal.",
            f"Unknown flag; expected one of {', '.join(service.FLAGS)}.",
            field="flag",
        )
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_TEXT):
        raise BadPayload(field="note")
    get_watchable(sitting_id, user)
    attempt_id = _attempt_id(sitting_id, candidate_id)
    attempt = db.session.get(Attempt, attempt_id)
    value = None
    if flag == "focus_lost":
        value = attempt.n_focus_lost
    elif flag == "many_moves":
        value = db.session.execute(
            db.select(db.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.attempt_id == attempt_id, AuditEvent.action == "seat_moved")
        ).scalar_one()
    # the candidate is told only of a request that was waiting (not of a repeated ack)
    answered = flag == "help" and presence.help_waiting(attempt_id)
    at = utcnow()
    audit(
        actor_of(user),
        "help_acknowledged" if flag == "help" else "flag_acknowledged",
        sitting_id=sitting_id,
        attempt_id=attempt_id,
        reason=note.strip() if note and note.strip() else None,
        candidate=candidate_id,
        flag=flag,
        by=user.username,
        value=value,
    )
    db.session.commit()
    feed.seat_changed(sitting_id, candidate_id)
    if answered:
        presence.tell_help_answered(attempt_id, at)
    return {"flag": flag, "by": user.username, "at": at.isoformat()}


def configure_board(user, sitting_id: int, enabled: bool, fields, reason: str) -> dict:
    """Admin only: turn the exam's public board on or off and choose its fields."""
    sitting = get_watchable(sitting_id, user)
    if not user.is_admin:
        raise Forbidden(
            "Hanya administrator yang dapat mengatur papan skor.",
            "Only an administrator can configure the score board.",
        )
    settings = board.configure(
        sitting.exam, enabled, fields, actor_of(user), reason, sitting_id=sitting.id
    )
    feed.seat_changed(sitting.id)
    return settings
