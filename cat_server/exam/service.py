"""The rules of an attempt. Only this module (and the other rooms' services) commits.

The hot path is ``record_answer``: every check first, then the response, the
next presentation and the attempt's new state in one transaction, and only
after the commit the reply (the next item, never its key) and the proctor feed.

An exam is a list of sections (see docs/protocol.md): navigable fixed sections
present all their items at once and take answers in any order until the
section ends; linear fixed and adaptive sections go forward one item at a time.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import sqlalchemy as sa
from flask import current_app

from .. import irt, security, txn
from ..errors import (
    BadPayload,
    CheckInClosed,
    ExamError,
    Forbidden,
    InvalidChoice,
    LoginFailed,
    NotFound,
    NotInProgress,
    TimeUp,
    WrongSeq,
    is_id,
)
from ..extensions import db, socketio
from ..itembank.service import media_file
from ..models import (
    Attempt,
    Candidate,
    Exam,
    ExamSection,
    Heartbeat,
    Item,
    ItemExposure,
    Presentation,
    Response,
    Sitting,
    audit,
    utcnow,
)
from ..proctor import feed

GENESIS = "0" * 64
HEARTBEAT_NAME = "server"


class SectionOver(ExamError):
    status = 409
    code = "section_over"
    message = "Bagian ujian ini sudah selesai; jawabannya tidak dapat diubah lagi."
    message_en = "This section has ended; its answers can no longer be changed."


class SectionTimeUp(ExamError):
    status = 409
    code = "section_time_up"
    message = "Waktu bagian ini telah habis. Jawaban ini tidak disimpan."
    message_en = "Time is up for this section. This answer was not stored."


class Paused(ExamError):
    status = 409
    code = "paused"
    message = "Ujian Anda sedang dijeda oleh pengawas. Waktu tidak berjalan; mohon tunggu."
    message_en = "Your exam is paused by the proctor. The clock is stopped; please wait."


def _parse_ints(data, names) -> dict:
    if not isinstance(data, dict):
        raise BadPayload()
    values = {}
    for name in names:
        value = data.get(name)
        if not is_id(value):
            raise BadPayload(field=name)
        values[name] = value
    return values


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
        values = _parse_ints(data, ("attempt", "seq", "item"))
        choice = data.get("choice")
        if not isinstance(choice, str) or len(choice) != 1 or choice not in "ABCDE":
            raise BadPayload(field="choice")
        return cls(choice=choice, **values)


@dataclass(frozen=True)
class MarkIn:
    attempt: int
    seq: int
    marked: bool

    @classmethod
    def parse(cls, data) -> MarkIn:
        values = _parse_ints(data, ("attempt", "seq"))
        if not isinstance(data.get("marked"), bool):
            raise BadPayload(field="marked")
        return cls(marked=data["marked"], **values)


@dataclass(frozen=True)
class FinishSectionIn:
    attempt: int
    section: int

    @classmethod
    def parse(cls, data) -> FinishSectionIn:
        return cls(**_parse_ints(data, ("attempt", "section")))


# --- what each process prepares once -------------------------------------
# Items and sections never change once imported (a new import is a new bank
# version), so these caches never go stale while the process lives.


def _cache(name: str) -> dict:
    return current_app.extensions.setdefault(f"cat_{name}", {})


def cached_item(item_id: int) -> Item:
    cache = _cache("items")
    item = cache.get(item_id)
    if item is None:
        item = db.session.get(Item, item_id)
        db.session.expunge(item)
        cache[item_id] = item
    return item


def exam_sections(exam_id: int) -> list[ExamSection]:
    """The exam's sections in order, detached and cached."""
    cache = _cache("sections")
    if exam_id not in cache:
        sections = (
            db.session.execute(
                db.select(ExamSection)
                .where(ExamSection.exam_id == exam_id)
                .order_by(ExamSection.position)
            )
            .scalars()
            .all()
        )
        for section in sections:
            db.session.expunge(section)
        cache[exam_id] = sections
    return cache[exam_id]


def exam_id_of(attempt: Attempt) -> int:
    """The attempt's exam id: a sitting never changes its exam, so cached per process."""
    cache = _cache("sitting_exam")
    exam_id = cache.get(attempt.sitting_id)
    if exam_id is None:
        exam_id = cache[attempt.sitting_id] = db.session.execute(
            db.select(Sitting.exam_id).where(Sitting.id == attempt.sitting_id)
        ).scalar_one()
    return exam_id


def public_item(item_id: int) -> dict:
    """The item as a candidate's browser may see it, built once per process."""
    cache = _cache("public_items")
    public = cache.get(item_id)
    if public is None:
        public = cache[item_id] = cached_item(item_id).to_public()
    return public


def cached_exam(exam_id: int) -> Exam:
    cache = _cache("exams")
    if exam_id not in cache:
        exam = db.session.get(Exam, exam_id)
        db.session.expunge(exam)
        cache[exam_id] = exam
    return cache[exam_id]


def section_pool(exam: Exam, section: ExamSection) -> list[int]:
    """Active item ids of the section's tags in the exam's bank, in bank order."""
    cache = _cache("pools")
    if section.id not in cache:
        cache[section.id] = (
            db.session.execute(
                db.select(Item.id)
                .where(
                    Item.bank_id == exam.bank_id,
                    Item.section.in_(section.pool_tags),
                    Item.status == "active",
                )
                .order_by(Item.position)
            )
            .scalars()
            .all()
        )
    return cache[section.id]


@dataclass(frozen=True)
class AdaptivePool:
    """An adaptive section's engine bank, prepared once per process."""

    bank: irt.Bank
    item_ids: list[int]
    index: dict[int, int]  # item id -> bank index
    config: irt.CatConfig


def adaptive_pool(exam: Exam, section: ExamSection) -> AdaptivePool:
    cache = _cache("adaptive")
    if section.id not in cache:
        items = [cached_item(i) for i in section_pool(exam, section)]
        width = max((len(i.thresholds or []) for i in items), default=0)
        thresholds = None
        if width:
            thresholds = np.full((len(items), width), np.nan)
            for j, item in enumerate(items):
                if item.thresholds:
                    thresholds[j, : len(item.thresholds)] = item.thresholds
        bank = irt.prepare_bank(
            a=[i.a for i in items],
            b=[i.b if i.b is not None else 0.0 for i in items],
            c=[i.c for i in items],
            d=[i.d for i in items],
            model=[i.model for i in items],
            thresholds=thresholds,
            item_id=[str(i.id) for i in items],
            section=[i.section for i in items],
            enemy_group=[i.enemy_group for i in items],
        )
        content = None
        if section.content:
            content = {
                tag: tuple(v) if isinstance(v, list) else v for tag, v in section.content.items()
            }
        config = irt.CatConfig(
            min_length=section.min_items or 0,
            max_length=section.n_items,
            se_target=section.se_target,
            exposure="randomesque" if section.randomesque_k > 1 else "none",
            randomesque_k=section.randomesque_k,
            content=content,
        )
        ids = [i.id for i in items]
        cache[section.id] = AdaptivePool(bank, ids, {v: k for k, v in enumerate(ids)}, config)
    return cache[section.id]


def section_length(exam: Exam, section: ExamSection) -> int:
    """Items a candidate meets at most in the section (fixed: capped by the pool)."""
    if section.mode == "adaptive":
        return section.n_items
    return min(section.n_items, len(section_pool(exam, section)))


def exam_length(exam_id: int) -> int:
    cache = _cache("lengths")
    if exam_id not in cache:
        exam = cached_exam(exam_id)
        cache[exam_id] = sum(section_length(exam, s) for s in exam_sections(exam_id))
    return cache[exam_id]


def fixed_form(attempt: Attempt, exam: Exam, section: ExamSection) -> list[int]:
    """The attempt's items for a fixed section: the first n of the pool, or a shuffle of its own."""
    pool = section_pool(exam, section)
    if not section.shuffle:
        return pool[: section.n_items]
    rng = np.random.default_rng([attempt.seed, section.id])
    return [pool[i] for i in rng.permutation(len(pool))[: section.n_items]]


def fixed_form_length(exam: Exam, section: ExamSection) -> int:
    """``len(fixed_form(...))`` without drawing the form (a shuffle per call)."""
    return min(section.n_items, len(section_pool(exam, section)))


def engine_score(item: Item, choice: str) -> int:
    """The engine's category: 0/1 keyed, or the option's score shifted to start at 0."""
    if item.option_scores is not None:
        return int(item.option_scores[ord(choice) - ord("A")]) - min(item.option_scores)
    return int(choice == item.key)


# --- login and start ------------------------------------------------------


def get_sitting(sitting_id: int) -> Sitting:
    sitting = db.session.get(Sitting, sitting_id)
    if sitting is None:
        raise NotFound("Sesi ujian tidak ditemukan.", "Sitting not found.")
    return sitting


def login_candidate(sitting_id: int, registration_no: str, pin: str) -> Attempt:
    """Check registration number + PIN; return the candidate's attempt, made on first login.

    A wrong PIN creates nothing. The attempt's first items are presented now,
    while the candidate waits, so the proctor's start only sets the clocks.
    Logging in after the sitting started starts the attempt at once with the
    full time.
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
    if candidate is None or not security.verify(candidate.pin_hash, pin.strip()):
        raise LoginFailed()
    attempt = candidate.attempt
    if attempt is None:
        if sitting.status == "ended":
            raise NotInProgress("Sesi ujian sudah ditutup.", "The sitting has ended.")
        attempt = Attempt(
            sitting_id=sitting.id,
            candidate_id=candidate.id,
            seed=secrets.randbits(62),
            n_items=exam_length(sitting.exam_id),
        )
        db.session.add(attempt)
        db.session.flush()
        audit(
            f"candidate:{candidate.id}",
            "attempt_created",
            sitting_id=sitting.id,
            attempt_id=attempt.id,
        )
        _begin_section(attempt, 1, utcnow())
        if sitting.status == "started" and attempt.status == "waiting":
            _start_clock(attempt, sitting.exam, utcnow())
            if sitting.paused_at is not None:  # joins a paused room: the clock waits too
                attempt.paused_at = attempt.started_at
    audit(f"candidate:{candidate.id}", "login", sitting_id=sitting.id, attempt_id=attempt.id)
    txn.commit()
    feed.seat_changed(sitting.id, candidate.id)
    return attempt


def _start_clock(attempt: Attempt, exam: Exam, now) -> None:
    attempt.status = "in_progress"
    attempt.started_at = now
    attempt.deadline_at = now + timedelta(seconds=exam.duration_s)
    _start_section_clock(attempt, current_section(attempt), now)
    audit(
        "server",
        "attempt_started",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        deadline=attempt.deadline_at.isoformat(),
    )


def open_check_in(sitting_id: int, actor: str, reason: str) -> Sitting:
    """Open check-in of a scheduled sitting: from now on its candidates may log in and wait."""
    sitting = get_sitting(sitting_id)
    if sitting.status != "scheduled":
        raise NotInProgress(
            "Check-in sesi ini sudah dibuka.", "Check-in of this sitting is already open."
        )
    sitting.status = "open"
    audit(actor, "check_in_opened", sitting_id=sitting.id, reason=reason)
    db.session.commit()
    feed.seat_changed(sitting.id)
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
    feed.seat_changed(sitting.id)
    return sitting


# --- sections -------------------------------------------------------------


def current_section(attempt: Attempt) -> ExamSection:
    return exam_sections(exam_id_of(attempt))[attempt.section_index - 1]


def _present(attempt: Attempt, item_id: int, section: ExamSection, now, writes=None) -> int:
    """Present ``item_id`` at the next seq; ``writes``: append the INSERT there instead of running it."""
    attempt.n_presented += 1
    _write(
        writes,
        _INSERT_PRESENTATION,
        dict(
            attempt_id=attempt.id,
            seq=attempt.n_presented,
            item_id=item_id,
            section_id=section.id,
            presented_at=now,
            marked=False,
        ),
    )
    return attempt.n_presented


def _write(writes: list | None, statement, row: dict) -> None:
    """Run ``statement`` for ``row`` now, or (``writes`` given) append it to run with the others."""
    if writes is None:
        db.session.execute(statement, [row])
    else:
        writes.append((statement, row))


def _count_exposure(item_ids: list[int]) -> None:
    """One atomic upsert for the items: safe when two attempts show an item first at once.

    (An UPDATE-then-INSERT raced: both INSERTed and PostgreSQL refused one.)
    """
    if not item_ids:
        return
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    counts: dict[int, int] = {}
    for item_id in item_ids:
        counts[item_id] = counts.get(item_id, 0) + 1
    statement = insert(ItemExposure).values(
        [{"item_id": item_id, "n": n} for item_id, n in sorted(counts.items())]
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[ItemExposure.item_id],
            set_={"n": ItemExposure.n + statement.excluded.n},
        )
    )


def _start_section_clock(attempt: Attempt, section: ExamSection, now) -> None:
    """A running attempt's section with a time limit gets its own deadline, never past the exam's."""
    if attempt.status == "in_progress" and section.time_limit_min:
        attempt.section_deadline_at = min(
            attempt.deadline_at, now + timedelta(minutes=section.time_limit_min)
        )
    else:
        attempt.section_deadline_at = None


def _begin_section(attempt: Attempt, index: int, now, finish_reason: str = "completed") -> None:
    """Present the section at ``index`` (1-based), skipping empty ones; past the last, finish.

    A running attempt's section clock starts here (a waiting one's at the start).
    """
    exam = cached_exam(exam_id_of(attempt))
    sections = exam_sections(exam.id)
    while index <= len(sections):
        section = sections[index - 1]
        attempt.section_index = index
        attempt.section_first_seq = attempt.n_presented + 1
        if section.mode == "adaptive":
            pool = adaptive_pool(exam, section)
            rng = np.random.default_rng([attempt.seed, section.id, 0])
            step = irt.step(
                pool.bank, irt.CatState.new(pool.bank, seed=attempt.seed), pool.config, rng
            )
            first = [] if step.item is None else [pool.item_ids[step.item]]
        else:
            form = fixed_form(attempt, exam, section)
            first = form if section.navigable else form[:1]
        if first:
            db.session.execute(
                _INSERT_PRESENTATION,
                [
                    dict(
                        attempt_id=attempt.id,
                        seq=attempt.n_presented + k,
                        item_id=item_id,
                        section_id=section.id,
                        presented_at=now,
                    )
                    for k, item_id in enumerate(first, start=1)
                ],
            )
            attempt.n_presented += len(first)
            attempt.next_seq = attempt.section_first_seq
            if section.mode == "adaptive":  # fixed forms: exposure is their presentations
                _count_exposure(first)
            _start_section_clock(attempt, section, now)
            return
        index += 1
    attempt.section_deadline_at = None
    if attempt.status == "in_progress":
        _finish(attempt, finish_reason, now)
    else:  # an exam without items: nothing to wait for
        attempt.status, attempt.finished_at, attempt.finish_reason = "finished", now, "completed"


def finish_section(attempt_id: int, request: FinishSectionIn) -> dict:
    """End the current section (its answers are final) and begin the next, or finish."""
    if request.attempt != attempt_id:
        raise BadPayload(field="attempt")
    attempt = _lock_attempt(attempt_id)
    if attempt.status == "finished" or request.section < attempt.section_index:
        state = attempt_state(attempt, full=True)
        txn.rollback()
        return {"ok": True, "repeat": True, "state": state}
    _check_running(attempt)
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
    _begin_section(attempt, attempt.section_index + 1, now)
    txn.commit()
    feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return {"ok": True, "state": attempt_state(attempt, full=True)}


# --- the hot path ---------------------------------------------------------
# Statements built once: SQLAlchemy then reuses their compiled form and cache
# key instead of rebuilding both for every answer.

_LOCK_ATTEMPT = db.select(Attempt).where(Attempt.id == db.bindparam("id")).with_for_update()
# the answer's first round trip: the attempt, locked, with the item presented at the
# answer's seq (None when there is none)
_LOCK_ATTEMPT_AND_ITEM = (
    db.select(
        Attempt,
        db.select(Presentation.item_id)
        .where(Presentation.attempt_id == Attempt.id, Presentation.seq == db.bindparam("seq"))
        .scalar_subquery(),
    )
    .where(Attempt.id == db.bindparam("id"))
    .with_for_update(of=Attempt)
)
_BATCH = (
    sa.func.unnest(
        db.bindparam("ids", type_=sa.ARRAY(sa.Integer)),
        db.bindparam("seqs", type_=sa.ARRAY(sa.Integer)),
    )
    .table_valued("id", "seq")
    .render_derived()
)
# PostgreSQL batches (txn.Lane): every answer's attempt, locked in id order, with its item
_LOCK_BATCH = (
    db.select(
        Attempt,
        db.select(Presentation.item_id)
        .where(Presentation.attempt_id == Attempt.id, Presentation.seq == _BATCH.c.seq)
        .scalar_subquery(),
    )
    .join(_BATCH, _BATCH.c.id == Attempt.id)
    .order_by(Attempt.id)
    .with_for_update(of=Attempt)
)
# SQLite batches (group commit): the attempts of a run of answers, then their items
_ATTEMPTS = db.select(Attempt).where(Attempt.id.in_(db.bindparam("ids", expanding=True)))
_ITEMS_AT = db.select(Presentation.attempt_id, Presentation.seq, Presentation.item_id).where(
    Presentation.attempt_id.in_(db.bindparam("ids", expanding=True)),
    Presentation.seq.in_(db.bindparam("seqs", expanding=True)),
)
_PRESENTED_ITEM = db.select(Presentation.item_id).where(
    Presentation.attempt_id == db.bindparam("attempt"), Presentation.seq == db.bindparam("seq")
)
_LATEST_RESPONSE = (
    db.select(Response.choice, Response.score)
    .where(Response.attempt_id == db.bindparam("attempt"), Response.seq == db.bindparam("seq"))
    .order_by(Response.n.desc())
    .limit(1)
)
# inline: no RETURNING of the new id (nobody reads it), so they can be pipelined
_INSERT_RESPONSE = Response.__table__.insert().inline()
_INSERT_PRESENTATION = Presentation.__table__.insert().inline()


def record_answer(attempt_id: int, answer: AnswerIn) -> dict:
    """Check, score, present the next item: one transaction; the reply after the commit.

    A repeated answer (same seq, same choice as stored) returns the current
    state and stores nothing. Raises TimeUp after the deadline (the attempt is
    finished then), SectionTimeUp after the section's own (the next one
    begins), WrongSeq, SectionOver, NotInProgress, InvalidChoice; a
    rejected answer leaves the attempt as it was.

    The hot path: a linear answer is 5 statements (attempt FOR UPDATE, the
    presented item, INSERT response, INSERT next presentation, UPDATE attempt);
    the reply is built before the commit from what is already in hand, so
    nothing is read again after it. The repeat check runs only when the seq
    can have an answer already (navigable sections, or a seq behind the
    current one).
    """
    if answer.attempt != attempt_id:
        raise BadPayload(field="attempt")
    lane = txn.lane()
    if lane is not None:  # PostgreSQL batch: the row was locked and read with the others
        row = lane.take(attempt_id, answer.seq)
        if row is None:
            raise txn.Bounce()
    else:  # SQLite's group commit may have read it with the other answers of its batch
        row = (
            txn.prefetched(attempt_id, answer.seq)
            or db.session.execute(
                _LOCK_ATTEMPT_AND_ITEM,
                {"id": attempt_id, "seq": answer.seq},
                execution_options={"populate_existing": True},
            ).one_or_none()
        )
    if row is None:
        raise NotFound("Ujian tidak ditemukan.", "Attempt not found.")
    attempt, presented = row
    section = current_section(attempt)
    if lane is not None and not _fits_the_lane(attempt, section, answer):
        raise txn.Bounce()  # nothing changed yet: it runs on its own after the batch
    latest = None
    if attempt.n_responses and (
        section.navigable or attempt.status != "in_progress" or answer.seq < attempt.next_seq
    ):
        latest = db.session.execute(
            _LATEST_RESPONSE, {"attempt": attempt.id, "seq": answer.seq}
        ).one_or_none()
    if latest is not None and latest.choice == answer.choice:
        state = attempt_state(attempt)
        txn.rollback()
        if lane is not None:
            db.session.expunge(attempt)
        return {"ok": True, "repeat": True, "state": state}
    if latest is not None and attempt.status == "finished":
        raise NotInProgress(state=attempt_state(attempt))
    now = _check_running(attempt)
    if not attempt.section_first_seq <= answer.seq <= attempt.n_presented:
        if answer.seq < attempt.section_first_seq and answer.seq >= 1:
            raise SectionOver(state=attempt_state(attempt))
        raise WrongSeq(expected_seq=attempt.next_seq, state=attempt_state(attempt))
    if latest is not None and not section.navigable:
        # forward-only sections take one answer per item
        raise WrongSeq(expected_seq=attempt.next_seq, state=attempt_state(attempt))
    if answer.item != presented or (not section.navigable and answer.seq != attempt.next_seq):
        raise WrongSeq(expected_seq=attempt.next_seq, state=attempt_state(attempt))
    item = cached_item(presented)
    if ord(answer.choice) - ord("A") >= len(item.options):
        raise InvalidChoice()

    with db.session.no_autoflush:  # the attempt's UPDATE once, at the commit
        return _apply_answer(attempt, section, answer, item, latest, now)


def _fits_the_lane(attempt: Attempt, section: ExamSection, answer: AnswerIn) -> bool:
    """True if this answer only queues writes: a linear item, not the section's last.

    The others (adaptive and navigable sections read in between, a section's
    end presents the next one) run on their own, outside the batch (txn.Lane);
    so does one past a deadline, which ``_check_running`` bounces.
    """
    if section.mode == "adaptive" or section.navigable or attempt.status != "in_progress":
        return False
    position = answer.seq - attempt.section_first_seq + 1
    return 1 <= position < fixed_form_length(cached_exam(exam_id_of(attempt)), section)


def prefetch_answers(calls: list[tuple]) -> dict:
    """The attempts of a batch's answers, locked in id order, each with the item at its seq.

    ``calls``: the ``(attempt_id, AnswerIn)`` of each answer. Returns
    ``{attempt_id: (seq, (attempt, presented item id))}`` for the first answer
    of each attempt. One statement for the whole batch; locking in id order
    means two processes' batches cannot deadlock on each other.
    """
    wanted: dict[int, int] = {}
    for attempt_id, answer in calls:
        if isinstance(attempt_id, int) and answer.attempt == attempt_id:
            wanted.setdefault(attempt_id, answer.seq)
    if not wanted:
        return {}
    ids = sorted(wanted)
    if db.session.get_bind().dialect.name != "postgresql":  # SQLite: one writer, no row locks
        items = {
            (a, seq): item
            for a, seq, item in db.session.execute(
                _ITEMS_AT, {"ids": ids, "seqs": sorted(set(wanted.values()))}
            )
        }
        rows = [
            (attempt, items.get((attempt.id, wanted[attempt.id])))
            for attempt in db.session.execute(_ATTEMPTS, {"ids": ids}).scalars()
        ]
    else:
        rows = db.session.execute(_LOCK_BATCH, {"ids": ids, "seqs": [wanted[i] for i in ids]}).all()
    return {attempt.id: (wanted[attempt.id], (attempt, presented)) for attempt, presented in rows}


# both writers read a batch's attempts together (txn.Lane, txn._Batch.before)
record_answer.batch_prefetch = prefetch_answers


def _apply_answer(
    attempt: Attempt, section: ExamSection, answer: AnswerIn, item: Item, latest, now
) -> dict:
    # Linear sections' writes wait until every read is done, then go out together
    # (on PostgreSQL in one round trip, see txn.pipeline). Adaptive sections read
    # the new response back for the next estimate, navigable ones for the reply's
    # answers, so theirs are written at once.
    writes = [] if section.mode != "adaptive" and not section.navigable else None
    score = item.score_choice(answer.choice, section.points_correct)
    _store_response(attempt, answer, score, now, writes)
    if latest is None:
        attempt.n_answered += 1
    if not section.scaled:
        change = score - (latest.score if latest is not None else 0)
        attempt.total_score += change
        scores = dict(attempt.section_scores or {})
        scores[section.code] = scores.get(section.code, 0) + change
        attempt.section_scores = scores
    full, next_item = False, None
    if section.mode == "adaptive":
        full = _advance_adaptive(attempt, section, now)
    elif section.navigable:
        attempt.next_seq = answer.seq
    else:  # linear fixed: the next item of the attempt's form, or the next section
        form = fixed_form(attempt, cached_exam(exam_id_of(attempt)), section)
        position = answer.seq - attempt.section_first_seq + 1  # items answered here
        if position < len(form):
            next_item = form[position]
            attempt.next_seq = _present(attempt, next_item, section, now, writes)
        else:
            _begin_section(attempt, attempt.section_index + 1, now)
            full = True
    reply = {"ok": True, "state": attempt_state(attempt, full=full, next_item=next_item)}
    seat = (attempt.sitting_id, attempt.candidate_id)
    writes = writes or []
    writes += _attempt_update(attempt)
    txn.write(writes)
    db.session.expunge(attempt)  # written above: nothing left for the ORM to flush
    txn.commit()
    txn.after_commit(feed.seat_changed, *seat)
    return reply


_ATTEMPT_UPDATES: dict[frozenset, object] = {}  # changed columns -> UPDATE built once


def _attempt_update(attempt: Attempt) -> list:
    """The attempt's changed columns as one Core UPDATE: ``[(statement, params)]`` or ``[]``.

    Run instead of the ORM's flush of this one row, whose unit of work (and
    expiring the row at the commit) cost more CPU than the answer's other
    statements together; the caller then expunges the attempt, which stays
    readable with the values written.
    """
    state = sa.inspect(attempt)
    columns = Attempt.__table__.c
    changed = frozenset(key for key in state.committed_state if key in columns)
    if not changed:
        return []
    statement = _ATTEMPT_UPDATES.get(changed)
    if statement is None:
        statement = _ATTEMPT_UPDATES[changed] = (
            Attempt.__table__.update()
            .where(columns.id == db.bindparam("attempt_id"))
            .values(
                {
                    key: db.bindparam(f"new_{key}", type_=columns[key].type)
                    for key in sorted(changed)
                }
            )
        )
    return [
        (
            statement,
            {"attempt_id": attempt.id, **{f"new_{key}": getattr(attempt, key) for key in changed}},
        )
    ]


def _store_response(attempt: Attempt, answer: AnswerIn, score: int, now, writes=None) -> None:
    """INSERT the response (``writes``: append it there instead) and move the hash chain on."""
    prev = attempt.chain_head or GENESIS
    attempt.n_responses += 1
    digest = chain_hash(prev, attempt.id, answer.seq, answer.item, answer.choice, score, now)
    _write(
        writes,
        _INSERT_RESPONSE,
        dict(
            attempt_id=attempt.id,
            n=attempt.n_responses,
            seq=answer.seq,
            item_id=answer.item,
            choice=answer.choice,
            score=score,
            answered_at=now,
            prev_hash=prev,
            hash=digest,
        ),
    )
    attempt.chain_head = digest


def _advance_adaptive(attempt: Attempt, section: ExamSection, now) -> bool:
    """Update theta from the section's responses and present the next item, or move on.

    Returns True when a new section began (the reply is then a full state).
    """
    pool = adaptive_pool(cached_exam(exam_id_of(attempt)), section)
    rows = db.session.execute(
        db.select(Response.item_id, Response.choice)
        .where(Response.attempt_id == attempt.id, Response.seq >= attempt.section_first_seq)
        .order_by(Response.n)
    ).all()
    db.session.flush()
    indices = [pool.index[r.item_id] for r in rows]
    scores = [engine_score(cached_item(r.item_id), r.choice) for r in rows]
    rng = np.random.default_rng([attempt.seed, section.id, len(rows)])
    step = irt.step_from_responses(pool.bank, indices, scores, pool.config, rng, seed=attempt.seed)
    attempt.theta, attempt.se = float(step.theta), float(step.se)
    scaled = int(round(min(100.0, max(0.0, 50.0 + 10.0 * step.theta))))
    scores_by_section = dict(attempt.section_scores or {})
    attempt.total_score += scaled - scores_by_section.get(section.code, 0)
    scores_by_section[section.code] = scaled
    attempt.section_scores = scores_by_section
    if step.item is not None:
        item_id = pool.item_ids[step.item]
        attempt.next_seq = _present(attempt, item_id, section, now)
        _count_exposure([item_id])
        return False
    audit(
        "server",
        "adaptive_stopped",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        section=section.code,
        stop=step.stop_reason,
        theta=attempt.theta,
        se=attempt.se,
        items=len(rows),
    )
    _begin_section(attempt, attempt.section_index + 1, now)
    return True


def mark_item(attempt_id: int, request: MarkIn) -> dict:
    """Mark or unmark an item of the current navigable section for review."""
    if request.attempt != attempt_id:
        raise BadPayload(field="attempt")
    attempt = _lock_attempt(attempt_id)
    _check_running(attempt)
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
    return {"ok": True, "state": attempt_state(attempt)}


def chain_hash(prev: str, attempt_id, seq, item_id, choice, score, answered_at) -> str:
    """sha256 over the previous hash and the response's fields, in a fixed text form."""
    body = json.dumps(
        [prev, attempt_id, seq, item_id, choice, score, answered_at.isoformat()],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_attempt(attempt_id: int) -> Attempt:
    """The attempt, row-locked until commit (PostgreSQL; SQLite has one writer anyway)."""
    attempt = db.session.execute(_LOCK_ATTEMPT, {"id": attempt_id}).scalar_one_or_none()
    if attempt is None:
        raise NotFound("Ujian tidak ditemukan.", "Attempt not found.")
    return attempt


def _check_running(attempt: Attempt):
    """Raise unless the attempt is in progress before its deadline; return now.

    Past the deadline the attempt is finished here (committed) and TimeUp raised.
    """
    if attempt.status != "in_progress":
        raise NotInProgress(state=attempt_state(attempt))
    if attempt.paused_at is not None:  # a proctor's pause: nothing changes until resumed
        raise Paused(state=attempt_state(attempt))
    now = utcnow()
    if txn.lane() is not None and (
        now >= attempt.deadline_at
        or (attempt.section_deadline_at is not None and now >= attempt.section_deadline_at)
    ):
        raise txn.Bounce()  # ending the section or the attempt runs on its own, after the batch
    if now >= attempt.deadline_at:
        _finish(attempt, "time_up", now)
        txn.commit()
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
        raise TimeUp(state=attempt_state(attempt))
    if attempt.section_deadline_at is not None and now >= attempt.section_deadline_at:
        # the reaper had not got to it yet: the section ends here, the next begins
        _end_section_on_time(attempt, now)
        txn.commit()
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
        raise SectionTimeUp(state=attempt_state(attempt))
    return now


def _end_section_on_time(attempt: Attempt, now) -> None:
    """The section's own time is up: its answers are final; begin the next (after the last: finish)."""
    audit(
        "server",
        "section_time_up",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        section=current_section(attempt).code,
        section_deadline=attempt.section_deadline_at.isoformat(),
    )
    _begin_section(attempt, attempt.section_index + 1, now, finish_reason="time_up")


def _finish(attempt: Attempt, reason: str, now) -> None:
    attempt.status = "finished"
    attempt.finish_reason = reason
    attempt.finished_at = now
    attempt.section_deadline_at = None
    exam = cached_exam(exam_id_of(attempt))
    scores = attempt.section_scores or {}
    passed = all(
        s.pass_mark is None or scores.get(s.code, 0) >= s.pass_mark for s in exam_sections(exam.id)
    )
    if exam.pass_total is not None:
        passed = passed and attempt.total_score >= exam.pass_total
    attempt.passed = passed
    audit(
        "server",
        "attempt_finished",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        finish_reason=reason,
        total=attempt.total_score,
    )


def finish_expired(now=None) -> list[int]:
    """Finish every attempt whose deadline has passed, browser or not; return their ids.

    First every attempt whose section time is up (the exam's not) moves on to
    its next section (after the last one it finishes); their ids come first.
    """
    now = now or utcnow()
    advanced = advance_expired_sections(now)
    ids = (
        db.session.execute(
            db.select(Attempt.id).where(
                Attempt.status == "in_progress",
                Attempt.deadline_at <= now,
                Attempt.paused_at.is_(None),
            )  # a paused clock stands still
        )
        .scalars()
        .all()
    )
    txn.rollback()
    finished = []
    for attempt_id in ids:
        attempt = _lock_attempt(attempt_id)
        if (
            attempt.status == "in_progress"
            and attempt.deadline_at <= now
            and attempt.paused_at is None
        ):
            _finish(attempt, "time_up", now)
            txn.commit()
            finished.append(attempt)
        else:
            txn.rollback()
    for attempt in finished:
        push_state(attempt)
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return advanced + [a.id for a in finished]


def advance_expired_sections(now) -> list[int]:
    """End every running section whose own deadline has passed; the next begins at ``now``.

    Each attempt is its own transaction; its browser gets the new state after the commit.
    """
    ids = (
        db.session.execute(
            db.select(Attempt.id).where(
                Attempt.status == "in_progress",
                Attempt.section_deadline_at <= now,
                Attempt.deadline_at > now,  # the exam's end wins
                Attempt.paused_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    txn.rollback()
    advanced = []
    for attempt_id in ids:
        attempt = _lock_attempt(attempt_id)
        if (
            attempt.status == "in_progress"
            and attempt.paused_at is None
            and attempt.section_deadline_at is not None
            and attempt.section_deadline_at <= now < attempt.deadline_at
        ):
            _end_section_on_time(attempt, now)
            txn.commit()
            advanced.append(attempt)
        else:
            txn.rollback()
    for attempt in advanced:
        push_state(attempt)
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return [a.id for a in advanced]


# --- server downtime ------------------------------------------------------


def beat(now=None) -> None:
    """Write the server's heartbeat (every few seconds, from the background task)."""
    now = now or utcnow()
    updated = db.session.execute(
        db.update(Heartbeat).where(Heartbeat.name == HEARTBEAT_NAME).values(beat_at=now)
    ).rowcount
    if not updated:
        db.session.add(Heartbeat(name=HEARTBEAT_NAME, beat_at=now))
    txn.commit()


def credit_downtime(now=None, min_gap_s: float | None = None) -> float:
    """On start-up: give every running attempt back the time the server was down.

    The downtime is the gap since the server was last seen alive (when longer
    than a few beats): its last heartbeat, or the last answer it stored for a
    running attempt if that is later (a server starved of database
    connections misses heartbeats while it still serves answers: counting from
    the stale beat would give every candidate minutes they never lost). Every
    attempt in progress whose deadline was still ahead then gets its deadline
    moved by the gap, with an audit row each. Returns the seconds credited (0
    when none).
    """
    now = now or utcnow()
    min_gap_s = min_gap_s if min_gap_s is not None else 3 * current_app.config["HEARTBEAT_INTERVAL"]
    last = db.session.get(Heartbeat, HEARTBEAT_NAME)
    alive_at = _last_seen_alive(last.beat_at) if last is not None else None
    gap = (now - alive_at).total_seconds() if alive_at is not None else 0.0
    if gap <= min_gap_s:
        beat(now)
        return 0.0
    attempts = (
        db.session.execute(
            db.select(Attempt)
            .where(
                Attempt.status == "in_progress",
                Attempt.deadline_at > alive_at,
                # a paused attempt gets the gap back when it resumes
                Attempt.paused_at.is_(None),
            )
            # id order, as every other multi-row lock (the answer lane's): no deadlock with them
            .order_by(Attempt.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    for attempt in attempts:
        _shift_deadlines(attempt, timedelta(seconds=gap))
        audit(
            "server",
            "downtime_credit",
            sitting_id=attempt.sitting_id,
            attempt_id=attempt.id,
            reason="server was down",
            seconds=round(gap, 1),
            since=alive_at.isoformat(),
            deadline=attempt.deadline_at.isoformat(),
        )
    last.beat_at = now
    txn.commit()
    return gap


def _last_seen_alive(beat_at):
    """The later of the last heartbeat and the last answer stored for a running attempt.

    Only the live server stores answers (the CLI never does), and the join
    through running attempts keeps the scan to today's responses.
    """
    answered = db.session.execute(
        db.select(sa.func.max(Response.answered_at))
        .join(Attempt, Attempt.id == Response.attempt_id)
        .where(Attempt.status == "in_progress")
    ).scalar()
    return max(beat_at, answered) if answered is not None else beat_at


# --- what the browser sees ------------------------------------------------


def attempt_state(attempt: Attempt, full: bool = True, next_item: int | None = None) -> dict:
    """A snapshot for the candidate's page: enough to re-render (``full``: with every item).

    ``next_item``: the item at ``attempt.next_seq`` when the caller just presented it
    (saves reading it back).
    """
    now = utcnow()
    exam = cached_exam(exam_id_of(attempt))
    sections = exam_sections(exam.id)
    state = {
        "attempt": attempt.id,
        "status": attempt.status,
        "server_time": now.isoformat(),
        "answered": attempt.n_answered,
        "total": exam_length(exam.id),
        "full": full,
    }
    if attempt.status in ("waiting", "in_progress"):
        state["sections"] = [
            {
                "code": s.code,
                "name": s.name,
                "mode": s.mode,
                "status": "done"
                if i < attempt.section_index
                else "current"
                if i == attempt.section_index
                else "upcoming",
            }
            for i, s in enumerate(sections, start=1)
        ]
    if attempt.status == "in_progress":
        # while paused the clock stands still at what was left when the pause began
        state["paused"] = attempt.paused_at is not None
        clock = attempt.paused_at or now
        state["remaining_s"] = max(0.0, round((attempt.deadline_at - clock).total_seconds(), 1))
        # the current section's own clock (None: the exam's time alone applies)
        state["section_remaining_s"] = (
            None
            if attempt.section_deadline_at is None
            else max(0.0, round((attempt.section_deadline_at - clock).total_seconds(), 1))
        )
        state.update(_section_view(attempt, sections, full, next_item))
    elif attempt.status == "finished":
        state["finish_reason"] = attempt.finish_reason
        if exam.show_result:
            state["result"] = result_of(attempt)
    return state


def _section_view(attempt: Attempt, sections, full: bool, next_item: int | None) -> dict:
    section = sections[attempt.section_index - 1]
    view = {
        "section": {
            "index": attempt.section_index,
            "count": len(sections),
            "code": section.code,
            "name": section.name,
            "mode": section.mode,
            "navigable": section.navigable,
            "first_seq": attempt.section_first_seq,
            "last_seq": attempt.n_presented if section.navigable else None,
            "max_items": section_length(cached_exam(exam_id_of(attempt)), section),
        },
    }
    if not section.navigable:
        presented = (
            next_item
            or db.session.execute(
                _PRESENTED_ITEM, {"attempt": attempt.id, "seq": attempt.next_seq}
            ).scalar_one()
        )
        view["section"]["answered"] = attempt.next_seq - attempt.section_first_seq
        view.update(seq=attempt.next_seq, item=public_item(presented))
        return view
    rows = db.session.execute(
        db.select(Presentation.seq, Presentation.item_id, Presentation.marked)
        .where(Presentation.attempt_id == attempt.id, Presentation.seq >= attempt.section_first_seq)
        .order_by(Presentation.seq)
    ).all()
    answers = {}
    for seq, choice in db.session.execute(
        db.select(Response.seq, Response.choice)
        .where(Response.attempt_id == attempt.id, Response.seq >= attempt.section_first_seq)
        .order_by(Response.n)
    ):
        answers[str(seq)] = choice  # the latest row per seq wins
    view["section"]["answered"] = len(answers)
    current = next((r for r in rows if str(r.seq) not in answers), None)
    view.update(
        seq=current.seq if current else None,
        item=public_item(current.item_id) if current else None,
        answers=answers,
        marked=[r.seq for r in rows if r.marked],
    )
    if full:
        view["items"] = [{"seq": r.seq, "item": public_item(r.item_id)} for r in rows]
    return view


def result_of(attempt: Attempt) -> dict:
    exam = cached_exam(exam_id_of(attempt))
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
            for s in exam_sections(exam.id)
        ],
        "total": attempt.total_score,
        "pass_total": exam.pass_total,
        "passed": attempt.passed,
    }


def push_state(attempt: Attempt) -> None:
    """Send the attempt's full snapshot to its browser(s), after a commit."""
    socketio.emit("state", attempt_state(attempt), namespace="/exam", to=f"attempt:{attempt.id}")


def item_media(item_id: int, attempt_id: int | None, staff: bool):
    """(path, content type) of an item's media file, for a page that may show it.

    Staff may see any item's media; a candidate only the media of an item
    already presented to their own attempt (NotFound otherwise, so nothing
    tells whether an unpresented item has media); nobody else (Forbidden).
    """
    if not staff:
        if attempt_id is None:
            raise Forbidden()
        presented = db.session.execute(
            db.select(Presentation.id)
            .where(Presentation.attempt_id == attempt_id, Presentation.item_id == item_id)
            .limit(1)
        ).first()
        if presented is None:
            raise NotFound()
    item = db.session.get(Item, item_id)
    found = media_file(item) if item is not None else None
    if found is None:
        raise NotFound()
    return found


# --- connections ----------------------------------------------------------


class AlreadyConnected(ExamError):
    status = 409
    code = "already_connected"
    message = "Login ini sedang aktif di komputer lain. Hubungi pengawas."
    message_en = "This login is active on another workstation. Please call the proctor."


def mark_connected(
    attempt_id: int, sid: str, device: str | None = None, is_live=None
) -> tuple[Attempt, str | None]:
    """Record the workstation's socket for the proctor grid; return (attempt, replaced sid).

    A second browser (another ``device`` id) is refused with AlreadyConnected
    while the first one's socket is live (``is_live(sid)``); the same browser
    coming back after a network drop replaces its old socket, which the caller
    then closes. A proctor's seat move clears the mark.
    """
    attempt = _lock_attempt(attempt_id)
    old = attempt.connected_sid
    replaced = None
    if old and old != sid and is_live is not None and is_live(old):
        if device is None or device != attempt.connected_device:
            txn.rollback()
            raise AlreadyConnected()
        replaced = old
    attempt.connected_sid = sid
    attempt.connected_device = device
    attempt.last_seen_at = utcnow()
    txn.commit()
    feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return attempt, replaced


def connect(attempt_id: int, sid: str, device: str | None, is_live) -> tuple[dict, str | None]:
    """mark_connected, then the full state for the new socket: (state, replaced sid)."""
    attempt, replaced = mark_connected(attempt_id, sid, device, is_live)
    return attempt_state(attempt), replaced


def mark_disconnected(attempt_id: int, sid: str) -> None:
    attempt = _lock_attempt(attempt_id)
    if attempt.connected_sid == sid:  # a newer socket of the same attempt stays
        attempt.connected_sid = None
        attempt.last_seen_at = utcnow()
        txn.commit()
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    else:
        txn.rollback()


def move_seat(attempt_id: int, seat_label: str | None, actor: str, reason: str) -> Attempt:
    """A proctor approves that the candidate continues on another workstation.

    The old workstation's socket mark is cleared so the new one may connect;
    everything acknowledged and the remaining time carry over.
    """
    from ..models import Seat

    if not reason or not reason.strip():
        raise BadPayload("Alasan wajib diisi.", "A reason is required.", field="reason")
    attempt = _lock_attempt(attempt_id)
    old_sid, candidate = attempt.connected_sid, attempt.candidate
    old_seat = candidate.seat.label if candidate.seat else None
    if seat_label:
        seat = db.session.execute(
            db.select(Seat).where(Seat.sitting_id == attempt.sitting_id, Seat.label == seat_label)
        ).scalar_one_or_none()
        if seat is None:
            raise NotFound("Kursi tidak ditemukan.", "Seat not found.")
        candidate.seat_id = seat.id
    attempt.connected_sid = None
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
    if old_sid:
        socketio.server.disconnect(old_sid, namespace="/exam")
    feed.seat_changed(attempt.sitting_id, attempt.candidate_id)
    return attempt


def clear_connections() -> None:
    """On start-up of the only process: no socket of a previous run is still open."""
    db.session.execute(db.update(Attempt).values(connected_sid=None))
    txn.commit()


# --- proctor interventions: pause, resume, extend, end ---------------------
# The proctor room checks who may act and that a reason is given; these apply
# the clock rules, audit with who and why, commit, then push the candidates'
# new state and mark the proctor feed.


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
        push_state(attempt)
        feed.seat_changed(attempt.sitting_id, attempt.candidate_id)


def _shift_deadlines(attempt: Attempt, delta: timedelta) -> None:
    """Move the exam's deadline and the section's own (if any) by the same time."""
    attempt.deadline_at = attempt.deadline_at + delta
    if attempt.section_deadline_at is not None:
        attempt.section_deadline_at = attempt.section_deadline_at + delta


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
    _shift_deadlines(attempt, now - attempt.paused_at)
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
    attempt = _lock_attempt(attempt_id)
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
    attempt = _lock_attempt(attempt_id)
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
    _shift_deadlines(attempt, timedelta(minutes=minutes))
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
    attempt = _lock_attempt(attempt_id)
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
    _finish(attempt, "ended_by_proctor", now)
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
    attempt = _lock_attempt(attempt_id)
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


def note_focus_lost(attempt_id: int) -> int:
    """The workstation page reports that the exam tab or window lost focus: count it."""
    attempt = _lock_attempt(attempt_id)
    attempt.n_focus_lost += 1
    n, seat = attempt.n_focus_lost, (attempt.sitting_id, attempt.candidate_id)
    audit(
        f"candidate:{attempt.candidate_id}",
        "focus_lost",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        n=n,
    )
    txn.commit()
    feed.seat_changed(*seat)
    return n
