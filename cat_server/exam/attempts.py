"""Login, check-in, the start of a sitting, and the candidate's own section and review steps."""

from __future__ import annotations

import secrets
from datetime import timedelta

from .. import security, txn
from ..errors import (
    BadPayload,
    CheckInClosed,
    LoginFailed,
    NotFound,
    NotInProgress,
    SittingEnded,
    WrongSeq,
)
from ..extensions import db
from ..models import Attempt, Candidate, Presentation, Sitting, audit, utcnow
from ..sealed.release import require_release
from .catalog import check_version, current_section, exam_length, exam_sections
from .chain import chain_key, genesis
from .clock import check_running, start_late
from .payloads import FinishSectionIn, MarkIn
from .sections import begin_section, lock_attempt, start_clock
from .sessions import BY_SERVER, begin, check_token
from .signals import announce_seat
from .views import attempt_state, push_state


def get_sitting(sitting_id: int) -> Sitting:
    sitting = db.session.get(Sitting, sitting_id)
    if sitting is None:
        raise NotFound("Sesi ujian tidak ditemukan.", "Sitting not found.")
    return sitting


def login_candidate(sitting_id: int, registration_no: str, pin: str) -> Attempt:
    """Check registration number + PIN; return the candidate's attempt, made on first login.

    A wrong PIN creates nothing. An unknown registration number costs the same
    PIN verify (against a dummy hash), so the answer's timing does not tell
    which numbers exist. The attempt's first items are presented now,
    while the candidate waits, so the proctor's start only sets the clocks.
    Logging in after the sitting started starts the attempt at once with the
    full time, or with what is left of the sitting's (``Exam.late_login``).
    """
    sitting = get_sitting(sitting_id)
    if sitting.status == "scheduled":  # nothing is written before a proctor opens check-in
        raise CheckInClosed()
    candidate = db.session.execute(
        db.select(Candidate).where(
            Candidate.sitting_id == sitting.id,
            Candidate.registration_no == registration_no.strip(),
        )
    ).scalar_one_or_none()
    if candidate is None:
        security.verify(security.dummy_pin_hash(), pin.strip())
        raise LoginFailed()
    if not security.verify(candidate.pin_hash, pin.strip()):
        raise LoginFailed()
    attempt = candidate.attempt
    if attempt is None:
        if sitting.status == "ended":
            raise SittingEnded()
        check_version()  # the length below counts no item retired before now
        attempt = Attempt(
            sitting_id=sitting.id,
            candidate_id=candidate.id,
            seed=secrets.randbits(62),
            n_items=exam_length(sitting.exam_id),
        )
        db.session.add(attempt)
        db.session.flush()
        # the chain starts at whose attempt this is: moved to another candidate, it breaks
        attempt.chain_head = genesis(
            chain_key(), attempt.id, candidate.registration_no, sitting.id, sitting.exam_id
        )
        audit(
            f"candidate:{candidate.id}",
            "attempt_created",
            sitting_id=sitting.id,
            attempt_id=attempt.id,
        )
        begin_section(attempt, 1, utcnow())
        if sitting.status == "started" and attempt.status == "waiting":
            start_clock(attempt, sitting.exam, utcnow())
            start_late(attempt, sitting, sitting.exam, attempt.started_at)
            if sitting.paused_at is not None:  # joins a paused room: the clock waits too
                attempt.paused_at = attempt.started_at
    begin(attempt, utcnow())  # the cookie takes attempt.session_token
    audit(f"candidate:{candidate.id}", "login", sitting_id=sitting.id, attempt_id=attempt.id)
    txn.commit()
    announce_seat(sitting.id, candidate.id)
    return attempt


def open_check_in(sitting_id: int, actor: str, reason: str) -> Sitting:
    """Open check-in of a scheduled sitting: from now on its candidates may log in and wait."""
    sitting = get_sitting(sitting_id)
    if sitting.status != "scheduled":
        raise NotInProgress(
            "Check-in sesi ini sudah dibuka.", "Check-in of this sitting is already open."
        )
    require_release(sitting)  # candidates' first items are drawn at login
    sitting.status = "open"
    audit(actor, "check_in_opened", sitting_id=sitting.id, reason=reason)
    db.session.commit()
    announce_seat(sitting.id)
    return sitting


def start_sitting(sitting_id: int, actor: str, reason: str | None = None) -> Sitting:
    """Start the sitting: every waiting attempt starts now, each with the full time.

    The items are already presented (at login), so 300 seats start with one
    UPDATE and their states go out at once.
    """
    sitting = get_sitting(sitting_id)
    if sitting.status == "scheduled":
        raise CheckInClosed("Buka check-in terlebih dahulu.", "Open check-in first.")
    if sitting.status != "open":
        raise NotInProgress(
            "Sesi ini sudah dimulai atau ditutup.", "This sitting has already started or ended."
        )
    require_release(sitting)
    now = utcnow()
    sitting.status = "started"
    sitting.started_at = now
    deadline = now + timedelta(seconds=sitting.exam.duration_s)
    started = (
        db.session.execute(
            db.update(Attempt)
            .where(Attempt.sitting_id == sitting.id, Attempt.status == "waiting")
            .values(status="in_progress", started_at=now, deadline_at=deadline)
            .returning(Attempt.id)
        )
        .scalars()
        .all()
    )
    # sections with their own limit: the current one's clock starts now too
    # (one UPDATE per such section; every attempt is usually in section 1)
    for index, section in enumerate(exam_sections(sitting.exam_id), start=1):
        if section.time_limit_min and started:
            db.session.execute(
                db.update(Attempt)
                .where(Attempt.id.in_(started), Attempt.section_index == index)
                .values(
                    section_deadline_at=min(
                        deadline, now + timedelta(minutes=section.time_limit_min)
                    )
                )
            )
    audit(
        actor,
        "sitting_started",
        sitting_id=sitting.id,
        reason=reason,
        attempts=len(started),
        deadline=deadline.isoformat(),
    )
    txn.commit()
    for attempt_id in started:
        push_state(db.session.get(Attempt, attempt_id))
    announce_seat(sitting.id)
    return sitting


def finish_section(attempt_id: int, request: FinishSectionIn, token=BY_SERVER) -> dict:
    """End the current section (its answers are final) and begin the next, or finish."""
    if request.attempt != attempt_id:
        raise BadPayload(field="attempt")
    attempt = lock_attempt(attempt_id)
    check_token(attempt, token)
    if attempt.status == "finished" or request.section < attempt.section_index:
        state = attempt_state(attempt, full=True)
        txn.rollback()
        return {"ok": True, "repeat": True, "state": state}
    check_running(attempt)
    if request.section != attempt.section_index:
        raise BadPayload(field="section")
    now = utcnow()
    audit(
        f"candidate:{attempt.candidate_id}",
        "section_finished",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        section=current_section(attempt).code,
    )
    begin_section(attempt, attempt.section_index + 1, now)
    txn.commit()
    announce_seat(attempt.sitting_id, attempt.candidate_id)
    return {"ok": True, "state": attempt_state(attempt, full=True)}


def mark_item(attempt_id: int, request: MarkIn, token=BY_SERVER) -> dict:
    """Mark or unmark an item of the current navigable section for review."""
    if request.attempt != attempt_id:
        raise BadPayload(field="attempt")
    attempt = lock_attempt(attempt_id)
    check_token(attempt, token)
    check_running(attempt)
    if not attempt.section_first_seq <= request.seq <= attempt.n_presented or not (
        current_section(attempt).navigable
    ):
        raise WrongSeq(expected_seq=attempt.next_seq, state=attempt_state(attempt))
    db.session.execute(
        db.update(Presentation)
        .where(Presentation.attempt_id == attempt.id, Presentation.seq == request.seq)
        .values(marked=request.marked)
    )
    txn.commit()
    return {"ok": True, "state": attempt_state(attempt, full=False)}  # like an answer's ack
