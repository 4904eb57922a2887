"""The rules of an attempt. Only this module (and the other rooms' services) commits.

The hot path is ``record_answer``: every check first, then the response, the
next presentation and the attempt's new state in one transaction, and only
after the commit the reply (the next item, never its key) and the proctor feed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from .. import security
from ..errors import (
    BadPayload,
    InvalidChoice,
    LoginFailed,
    NotFound,
    NotInProgress,
    TimeUp,
    WrongSeq,
)
from ..extensions import db, socketio
from ..models import (
    Attempt,
    Candidate,
    Exam,
    ExamSection,
    Item,
    Presentation,
    Response,
    Sitting,
    audit,
    utcnow,
)
from ..proctor import feed

GENESIS = "0" * 64


@dataclass(frozen=True)
class AnswerIn:
    """A validated ``answer`` payload."""

    attempt: int
    seq: int
    item: int
    choice: str

    @classmethod
    def parse(cls, data) -> AnswerIn:
        """Raise BadPayload unless ``data`` is {attempt:int, seq:int, item:int, choice:'A'..'E'}."""
        if not isinstance(data, dict):
            raise BadPayload()
        values = {}
        for name in ("attempt", "seq", "item"):
            value = data.get(name)
            if type(value) is not int or value < 0:  # bool is not an int here
                raise BadPayload(field=name)
            values[name] = value
        choice = data.get("choice")
        if not isinstance(choice, str) or len(choice) != 1 or choice not in "ABCDE":
            raise BadPayload(field="choice")
        return cls(choice=choice, **values)


# --- the exam's form ------------------------------------------------------


def exam_form(exam_id: int) -> list[tuple[int, int]]:
    """The fixed order of (item_id, section_id) for an exam, prepared once per process.

    Items are immutable once imported (a new import is a new bank version), so
    the cache never goes stale while the exam exists.
    """
    cache = current_app.extensions.setdefault("cat_forms", {})
    if exam_id not in cache:
        exam = db.session.get(Exam, exam_id)
        form = []
        for section in exam.sections:
            items = db.session.execute(
                db.select(Item.id)
                .where(
                    Item.bank_id == exam.bank_id,
                    Item.section == section.code,
                    Item.status == "active",
                )
                .order_by(Item.position)
                .limit(section.n_items)
            ).scalars()
            form.extend((item_id, section.id) for item_id in items)
        cache[exam_id] = form
    return cache[exam_id]


def cached_item(item_id: int) -> Item:
    """The item row, loaded once per process and detached (items never change)."""
    cache = current_app.extensions.setdefault("cat_items", {})
    item = cache.get(item_id)
    if item is None:
        item = db.session.get(Item, item_id)
        db.session.expunge(item)
        cache[item_id] = item
    return item


def cached_section(section_id: int) -> ExamSection:
    cache = current_app.extensions.setdefault("cat_sections", {})
    section = cache.get(section_id)
    if section is None:
        section = db.session.get(ExamSection, section_id)
        db.session.expunge(section)
        cache[section_id] = section
    return section


# --- login and start ------------------------------------------------------


def get_sitting(sitting_id: int) -> Sitting:
    sitting = db.session.get(Sitting, sitting_id)
    if sitting is None:
        raise NotFound("Sesi ujian tidak ditemukan.", "Sitting not found.")
    return sitting


def login_candidate(sitting_id: int, registration_no: str, pin: str) -> Attempt:
    """Check registration number + PIN; return the candidate's attempt, made on first login.

    A wrong PIN creates nothing. Logging in after the sitting started starts the
    attempt at once with the full time.
    """
    sitting = get_sitting(sitting_id)
    candidate = db.session.execute(
        db.select(Candidate).where(
            Candidate.sitting_id == sitting.id,
            Candidate.registration_no == registration_no.strip(),
        )
    ).scalar_one_or_none()
    if candidate is None or not security.verify(candidate.pin_hash, pin.strip()):
        raise LoginFailed()
    attempt = candidate.attempt
    if attempt is None:
        if sitting.status == "ended":
            raise NotInProgress("Sesi ujian sudah ditutup.", "The sitting has ended.")
        attempt = Attempt(sitting_id=sitting.id, candidate_id=candidate.id)
        db.session.add(attempt)
        db.session.flush()
        audit(f"candidate:{candidate.id}", "attempt_created", sitting_id=sitting.id,
              attempt_id=attempt.id)
        if sitting.status == "started":
            _start_attempt(attempt, sitting)
    audit(f"candidate:{candidate.id}", "login", sitting_id=sitting.id, attempt_id=attempt.id)
    db.session.commit()
    feed.seat_changed(sitting.id, candidate.id)
    return attempt


def _start_attempt(attempt: Attempt, sitting: Sitting) -> None:
    """Set the deadline from the server clock and present the first item."""
    now = utcnow()
    form = exam_form(sitting.exam_id)
    attempt.status = "in_progress"
    attempt.started_at = now
    attempt.deadline_at = now + timedelta(seconds=sitting.exam.duration_s)
    attempt.n_items = len(form)
    attempt.next_seq = 1
    item_id, section_id = form[0]
    db.session.add(
        Presentation(attempt_id=attempt.id, seq=1, item_id=item_id, section_id=section_id)
    )
    audit("server", "attempt_started", sitting_id=sitting.id, attempt_id=attempt.id,
          deadline=attempt.deadline_at.isoformat())


def start_sitting(sitting_id: int, actor: str, reason: str | None = None) -> Sitting:
    """Start the sitting: every waiting attempt starts now, each with the full time."""
    sitting = get_sitting(sitting_id)
    if sitting.status != "open":
        raise NotInProgress("Sesi ini sudah dimulai atau ditutup.",
                            "This sitting has already started or ended.")
    sitting.status = "started"
    sitting.started_at = utcnow()
    waiting = db.session.execute(
        db.select(Attempt).where(Attempt.sitting_id == sitting.id, Attempt.status == "waiting")
    ).scalars().all()
    for attempt in waiting:
        _start_attempt(attempt, sitting)
    audit(actor, "sitting_started", sitting_id=sitting.id, reason=reason,
          attempts=len(waiting))
    db.session.commit()
    for attempt in waiting:
        push_state(attempt)
    feed.seat_changed(sitting.id)
    return sitting


# --- the hot path ---------------------------------------------------------


def record_answer(attempt_id: int, answer: AnswerIn) -> dict:
    """Check, score, present the next item: one transaction; the reply after the commit.

    A repeated seq returns the stored reply and stores nothing. Raises TimeUp
    after the deadline (the attempt is finished then), WrongSeq, NotInProgress,
    InvalidChoice; a rejected answer leaves the attempt as it was.
    """
    if answer.attempt != attempt_id:
        raise BadPayload(field="attempt")
    attempt = _lock_attempt(attempt_id)
    if answer.seq < attempt.next_seq or (
        attempt.status == "finished" and answer.seq <= attempt.n_answered
    ):
        stored = db.session.execute(
            db.select(Response.item_id).where(
                Response.attempt_id == attempt.id, Response.seq == answer.seq
            )
        ).scalar_one_or_none()
        if stored is not None:
            db.session.rollback()
            return {"ok": True, "repeat": True, "state": attempt_state(attempt)}
    if attempt.status != "in_progress":
        db.session.rollback()
        raise NotInProgress(state=attempt_state(attempt))
    now = utcnow()
    if now >= attempt.deadline_at:
        _finish(attempt, "time_up", now)
        db.session.commit()
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
        raise TimeUp(state=attempt_state(attempt))
    presented = db.session.execute(
        db.select(Presentation.item_id, Presentation.section_id).where(
            Presentation.attempt_id == attempt.id, Presentation.seq == attempt.next_seq
        )
    ).one()
    if answer.seq != attempt.next_seq or answer.item != presented.item_id:
        db.session.rollback()
        raise WrongSeq(expected_seq=attempt.next_seq, state=attempt_state(attempt))
    item = cached_item(presented.item_id)
    if ord(answer.choice) - ord("A") >= len(item.options):
        db.session.rollback()
        raise InvalidChoice()

    section = cached_section(presented.section_id)
    score = item.score_choice(answer.choice, section.points_correct)
    digest = chain_hash(attempt.chain_head or GENESIS, attempt.id, answer.seq, item.id,
                        answer.choice, score, now)
    db.session.add(Response(attempt_id=attempt.id, seq=answer.seq, item_id=item.id,
                            choice=answer.choice, score=score, answered_at=now,
                            prev_hash=attempt.chain_head or GENESIS, hash=digest))
    attempt.chain_head = digest
    attempt.n_answered += 1
    attempt.total_score += score
    scores = dict(attempt.section_scores or {})
    scores[section.code] = scores.get(section.code, 0) + score
    attempt.section_scores = scores
    form = exam_form(attempt.sitting.exam_id)
    if answer.seq < len(form):
        item_id, section_id = form[answer.seq]
        attempt.next_seq = answer.seq + 1
        db.session.add(Presentation(attempt_id=attempt.id, seq=attempt.next_seq,
                                    item_id=item_id, section_id=section_id, presented_at=now))
    else:
        _finish(attempt, "completed", now)
    db.session.commit()
    feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return {"ok": True, "state": attempt_state(attempt)}


def chain_hash(prev: str, attempt_id, seq, item_id, choice, score, answered_at) -> str:
    """sha256 over the previous hash and the response's fields, in a fixed text form."""
    body = json.dumps([prev, attempt_id, seq, item_id, choice, score, answered_at.isoformat()],
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_attempt(attempt_id: int) -> Attempt:
    """The attempt, row-locked until commit (PostgreSQL; SQLite has one writer anyway)."""
    attempt = db.session.execute(
        db.select(Attempt).where(Attempt.id == attempt_id).with_for_update()
    ).scalar_one_or_none()
    if attempt is None:
        raise NotFound("Ujian tidak ditemukan.", "Attempt not found.")
    return attempt


def _finish(attempt: Attempt, reason: str, now) -> None:
    attempt.status = "finished"
    attempt.finish_reason = reason
    attempt.finished_at = now
    exam = attempt.sitting.exam
    scores = attempt.section_scores or {}
    passed = all(
        s.pass_mark is None or scores.get(s.code, 0) >= s.pass_mark for s in exam.sections
    )
    if exam.pass_total is not None:
        passed = passed and attempt.total_score >= exam.pass_total
    attempt.passed = passed
    audit("server", "attempt_finished", sitting_id=attempt.sitting_id, attempt_id=attempt.id,
          finish_reason=reason, total=attempt.total_score)


def finish_expired(now=None) -> list[int]:
    """Finish every attempt whose deadline has passed, browser or not; return their ids."""
    now = now or utcnow()
    ids = db.session.execute(
        db.select(Attempt.id).where(Attempt.status == "in_progress", Attempt.deadline_at <= now)
    ).scalars().all()
    db.session.rollback()
    finished = []
    for attempt_id in ids:
        attempt = _lock_attempt(attempt_id)
        if attempt.status == "in_progress" and attempt.deadline_at <= now:
            _finish(attempt, "time_up", now)
            db.session.commit()
            finished.append(attempt)
        else:
            db.session.rollback()
    for attempt in finished:
        push_state(attempt)
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return [a.id for a in finished]


# --- what the browser sees ------------------------------------------------


def attempt_state(attempt: Attempt) -> dict:
    """A full snapshot for the candidate's page: enough to re-render from nothing."""
    now = utcnow()
    state = {
        "attempt": attempt.id,
        "status": attempt.status,
        "server_time": now.isoformat(),
        "answered": attempt.n_answered,
        "total": attempt.n_items or len(exam_form(attempt.sitting.exam_id)),
    }
    if attempt.status == "in_progress":
        remaining = (attempt.deadline_at - now).total_seconds()
        presentation = db.session.execute(
            db.select(Presentation.item_id, Presentation.section_id).where(
                Presentation.attempt_id == attempt.id, Presentation.seq == attempt.next_seq
            )
        ).one()
        section = cached_section(presentation.section_id)
        state.update(
            remaining_s=max(0.0, round(remaining, 1)),
            seq=attempt.next_seq,
            section={"code": section.code, "name": section.name},
            item=cached_item(presentation.item_id).to_public(),
        )
    elif attempt.status == "finished":
        state["finish_reason"] = attempt.finish_reason
        if attempt.sitting.exam.show_result:
            state["result"] = result_of(attempt)
    return state


def result_of(attempt: Attempt) -> dict:
    exam = attempt.sitting.exam
    scores = attempt.section_scores or {}
    return {
        "sections": [
            {
                "code": s.code,
                "name": s.name,
                "score": scores.get(s.code, 0),
                "pass_mark": s.pass_mark,
                "passed": s.pass_mark is None or scores.get(s.code, 0) >= s.pass_mark,
            }
            for s in exam.sections
        ],
        "total": attempt.total_score,
        "pass_total": exam.pass_total,
        "passed": attempt.passed,
    }


def push_state(attempt: Attempt) -> None:
    """Send the attempt's snapshot to its browser(s), after a commit."""
    socketio.emit("state", attempt_state(attempt), namespace="/exam", to=f"attempt:{attempt.id}")


# --- connection tracking --------------------------------------------------


def mark_connected(attempt_id: int, sid: str | None) -> Attempt:
    """Record the workstation's socket (or its loss) for the proctor grid."""
    attempt = _lock_attempt(attempt_id)
    if sid is None or attempt.connected_sid != sid:
        attempt.connected_sid = sid
    attempt.last_seen_at = utcnow()
    db.session.commit()
    feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return attempt


def mark_disconnected(attempt_id: int, sid: str) -> None:
    attempt = _lock_attempt(attempt_id)
    if attempt.connected_sid == sid:  # a newer socket of the same attempt stays
        attempt.connected_sid = None
        attempt.last_seen_at = utcnow()
        db.session.commit()
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    else:
        db.session.rollback()


def clear_connections() -> None:
    """On start-up of the only process: no socket of a previous run is still open."""
    db.session.execute(db.update(Attempt).values(connected_sid=None))
    db.session.commit()
