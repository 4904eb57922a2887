"""The proctor's interventions on attempts: pause, resume, extend, end, move to another seat.

``actions.py`` checks who may act and that a reason is given; these apply the
exam's clock rules (``exam.sections``), audit with who and why, commit, then
push the candidates' new state and mark the proctor feed.
"""

from __future__ import annotations

from datetime import timedelta

from .. import txn
from ..errors import BadPayload, NotFound, NotInProgress, SeatTaken
from ..exam import views
from ..exam.attempts import get_sitting
from ..exam.sections import finish, lock_attempt, shift_deadlines
from ..exam.sessions import close_sockets, revoke
from ..extensions import db
from ..models import Attempt, Candidate, Seat, audit, utcnow
from . import feed


def move_seat(
    attempt_id: int, seat_label: str | None, actor: str, reason: str, add: bool = False
) -> Attempt:
    """A proctor approves that the candidate continues on another workstation.

    The candidate's session ends (exam/sessions.py): the old workstation's
    cookie and socket stop working, so it cannot take the attempt back, and the
    new one is free to connect once the candidate logs in there. Everything
    acknowledged and the remaining time carry over. A seat another candidate
    sits at is refused (SeatTaken, with the free seats); a label the room does
    not have is NotFound unless ``add``: a spare seat brought in now.
    """
    if not reason or not reason.strip():
        raise BadPayload("Alasan wajib diisi.", "A reason is required.", field="reason")
    attempt = lock_attempt(attempt_id)
    candidate = attempt.candidate
    old_seat = candidate.seat.label if candidate.seat else None
    if seat_label:
        seat = db.session.execute(
            db.select(Seat).where(Seat.sitting_id == attempt.sitting_id, Seat.label == seat_label)
        ).scalar_one_or_none()
        if seat is None and not add:
            raise NotFound(
                "Kursi tidak ditemukan.", "Seat not found.", free=free_seats(attempt.sitting_id)
            )
        if seat is None:  # a spare workstation brought in on the spot
            seat = add_seat(attempt.sitting_id, seat_label, actor, reason.strip())
        elif seat.id != candidate.seat_id and _seated(seat.id):
            raise SeatTaken(free=free_seats(attempt.sitting_id))
        candidate.seat_id = seat.id
    old_sid = revoke(attempt.id)
    audit(
        actor,
        "seat_moved",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        reason=reason.strip(),
        old_seat=old_seat,
        new_seat=seat_label or old_seat,
    )
    txn.commit()
    close_sockets(attempt.id, old_sid)
    feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return attempt


def free_seats(sitting_id: int) -> list[str]:
    """The sitting's seats no candidate sits at, in room order."""
    taken = db.select(Candidate.seat_id).where(
        Candidate.sitting_id == sitting_id, Candidate.seat_id.is_not(None)
    )
    return list(
        db.session.execute(
            db.select(Seat.label)
            .where(Seat.sitting_id == sitting_id, Seat.id.not_in(taken))
            .order_by(Seat.position, Seat.label)
        ).scalars()
    )


def add_seat(sitting_id: int, label: str, actor: str, reason: str) -> Seat:
    """A spare seat at the end of the room (the caller commits); audited."""
    last = db.session.execute(
        db.select(db.func.max(Seat.position)).where(Seat.sitting_id == sitting_id)
    ).scalar()
    seat = Seat(sitting_id=sitting_id, label=label, position=(last or 0) + 1)
    db.session.add(seat)
    db.session.flush()
    audit(actor, "seat_added", sitting_id=sitting_id, reason=reason, seat=label)
    return seat


def _seated(seat_id: int) -> bool:
    return (
        db.session.execute(
            db.select(Candidate.id).where(Candidate.seat_id == seat_id).limit(1)
        ).first()
        is not None
    )


def _locked_attempts(sitting_id: int, *conditions) -> list[Attempt]:
    return (
        db.session.execute(
            db.select(Attempt)
            .where(Attempt.sitting_id == sitting_id, *conditions)
            .order_by(Attempt.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )


def _after_commit(attempts) -> None:
    for attempt in attempts:
        views.push_state(attempt)
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)


def _pause(attempt: Attempt, actor: str, reason: str, now, **data) -> bool:
    if attempt.status != "in_progress" or attempt.paused_at is not None:
        return False
    attempt.paused_at = now
    audit(
        actor,
        "attempt_paused",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        reason=reason,
        remaining_s=round((attempt.deadline_at - now).total_seconds(), 1),
        **data,
    )
    return True


def _resume(attempt: Attempt, actor: str, reason: str, now, **data) -> bool:
    if attempt.status != "in_progress" or attempt.paused_at is None:
        return False
    paused_s = (now - attempt.paused_at).total_seconds()
    shift_deadlines(attempt, now - attempt.paused_at)
    attempt.paused_at = None
    audit(
        actor,
        "attempt_resumed",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        reason=reason,
        paused_s=round(paused_s, 1),
        deadline=attempt.deadline_at.isoformat(),
        **data,
    )
    return True


def pause_attempt(attempt_id: int, actor: str, reason: str) -> Attempt:
    """Stop one attempt's clock; its answers are refused (``paused``) until resumed."""
    attempt = lock_attempt(attempt_id)
    if not _pause(attempt, actor, reason, utcnow()):
        raise NotInProgress(
            "Hanya ujian yang sedang berjalan (dan belum dijeda) dapat dijeda.",
            "Only a running attempt that is not paused can be paused.",
        )
    txn.commit()
    _after_commit([attempt])
    return attempt


def resume_attempt(attempt_id: int, actor: str, reason: str) -> Attempt:
    """Restart one attempt's clock; its deadline moves by the time it was paused."""
    attempt = lock_attempt(attempt_id)
    if not _resume(attempt, actor, reason, utcnow()):
        raise NotInProgress("Ujian ini tidak sedang dijeda.", "This attempt is not paused.")
    txn.commit()
    _after_commit([attempt])
    return attempt


def pause_sitting(sitting_id: int, actor: str, reason: str) -> list[Attempt]:
    """Pause the sitting: every running attempt not already paused stops its clock."""
    sitting = get_sitting(sitting_id)
    if sitting.status != "started" or sitting.paused_at is not None:
        raise NotInProgress(
            "Hanya sesi yang sedang berjalan dapat dijeda.",
            "Only a running sitting that is not paused can be paused.",
        )
    now = utcnow()
    sitting.paused_at = now
    paused = [
        a
        for a in _locked_attempts(sitting.id, Attempt.status == "in_progress")
        if _pause(a, actor, reason, now, by="sitting")
    ]
    audit(actor, "sitting_paused", sitting_id=sitting.id, reason=reason, attempts=len(paused))
    txn.commit()
    _after_commit(paused)
    feed.seat_changed(sitting.id)
    return paused


def resume_sitting(sitting_id: int, actor: str, reason: str) -> list[Attempt]:
    """Resume the sitting: the attempts its pause stopped go on; seats paused on their own stay."""
    sitting = get_sitting(sitting_id)
    if sitting.paused_at is None:
        raise NotInProgress("Sesi ini tidak sedang dijeda.", "This sitting is not paused.")
    now, since = utcnow(), sitting.paused_at
    sitting.paused_at = None
    resumed = [
        a
        for a in _locked_attempts(
            sitting.id, Attempt.status == "in_progress", Attempt.paused_at >= since
        )
        if _resume(a, actor, reason, now, by="sitting")
    ]
    audit(
        actor,
        "sitting_resumed",
        sitting_id=sitting.id,
        reason=reason,
        attempts=len(resumed),
        paused_s=round((now - since).total_seconds(), 1),
    )
    txn.commit()
    _after_commit(resumed)
    feed.seat_changed(sitting.id)
    return resumed


def _extend(attempt: Attempt, minutes: int, actor: str, reason: str, **data) -> bool:
    if attempt.status != "in_progress":
        return False
    shift_deadlines(attempt, timedelta(minutes=minutes))
    audit(
        actor,
        "time_extended",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        reason=reason,
        minutes=minutes,
        deadline=attempt.deadline_at.isoformat(),
        **data,
    )
    return True


def extend_attempt(attempt_id: int, minutes: int, actor: str, reason: str) -> Attempt:
    """Give one running attempt (paused or not) ``minutes`` more."""
    attempt = lock_attempt(attempt_id)
    if not _extend(attempt, minutes, actor, reason):
        raise NotInProgress(
            "Waktu hanya dapat ditambah untuk ujian yang sedang berjalan.",
            "Time can only be added to a running attempt.",
        )
    txn.commit()
    _after_commit([attempt])
    return attempt


def extend_sitting(sitting_id: int, minutes: int, actor: str, reason: str) -> list[Attempt]:
    """Give every running attempt of the sitting ``minutes`` more."""
    sitting = get_sitting(sitting_id)
    extended = [
        a
        for a in _locked_attempts(sitting.id, Attempt.status == "in_progress")
        if _extend(a, minutes, actor, reason, by="sitting")
    ]
    if not extended:
        txn.rollback()
        raise NotInProgress(
            "Tidak ada ujian yang sedang berjalan di sesi ini.",
            "No attempt of this sitting is running.",
        )
    audit(
        actor,
        "sitting_extended",
        sitting_id=sitting.id,
        reason=reason,
        minutes=minutes,
        attempts=len(extended),
    )
    txn.commit()
    _after_commit(extended)
    return extended


def _end(attempt: Attempt, actor: str, reason: str, now, **data) -> bool:
    if attempt.status == "finished":
        return False
    attempt.paused_at = None
    finish(attempt, "ended_by_proctor", now)
    audit(
        actor,
        "attempt_ended",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        reason=reason,
        **data,
    )
    return True


def end_attempt(attempt_id: int, actor: str, reason: str) -> Attempt:
    """Finish one attempt now (``finish_reason`` ``ended_by_proctor``); its answers count."""
    attempt = lock_attempt(attempt_id)
    if not _end(attempt, actor, reason, utcnow()):
        raise NotInProgress("Ujian ini sudah selesai.", "This attempt has already finished.")
    txn.commit()
    _after_commit([attempt])
    return attempt


def end_sitting(sitting_id: int, actor: str, reason: str) -> list[Attempt]:
    """End the sitting: every unfinished attempt finishes now, no one can log in any more."""
    sitting = get_sitting(sitting_id)
    if sitting.status == "ended":
        raise NotInProgress("Sesi ini sudah ditutup.", "This sitting has already ended.")
    now = utcnow()
    sitting.status, sitting.ended_at, sitting.paused_at = "ended", now, None
    ended = [
        a
        for a in _locked_attempts(sitting.id, Attempt.status != "finished")
        if _end(a, actor, reason, now, by="sitting")
    ]
    audit(actor, "sitting_ended", sitting_id=sitting.id, reason=reason, attempts=len(ended))
    txn.commit()
    _after_commit(ended)
    feed.seat_changed(sitting.id)
    return ended
