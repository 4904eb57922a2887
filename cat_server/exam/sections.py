"""Moving an attempt through its sections: present a section's items, start its clock, finish.

The building blocks the other exam modules and the proctor's interventions
share: lock an attempt, present items, begin the next section, shift the
deadlines, finish an attempt with its pass/fail. None of them commits; the
caller does.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from .. import irt
from ..errors import NotFound
from ..extensions import db
from ..models import Attempt, Exam, ExamSection, ItemExposure, Presentation, audit
from .catalog import (
    adaptive_pool,
    cached_exam,
    check_version,
    current_section,
    draw_fixed_form,
    exam_id_of,
    exam_sections,
)
from .scoring import passes

_LOCK_ATTEMPT = db.select(Attempt).where(Attempt.id == db.bindparam("id")).with_for_update()


def lock_attempt(attempt_id: int) -> Attempt:
    """The attempt, row-locked until commit (PostgreSQL; SQLite has one writer anyway)."""
    attempt = db.session.execute(_LOCK_ATTEMPT, {"id": attempt_id}).scalar_one_or_none()
    if attempt is None:
        raise NotFound("Ujian tidak ditemukan.", "Attempt not found.")
    return attempt


INSERT_PRESENTATION = Presentation.__table__.insert().inline()


def start_clock(attempt: Attempt, exam: Exam, now) -> None:
    attempt.status = "in_progress"
    attempt.started_at = now
    attempt.deadline_at = now + timedelta(seconds=exam.duration_s)
    start_section_clock(attempt, current_section(attempt), now)
    audit(
        "server",
        "attempt_started",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        deadline=attempt.deadline_at.isoformat(),
    )


def present(
    attempt: Attempt, item_id: int, section: ExamSection, now, writes=None, pretest=False
) -> int:
    """Present ``item_id`` at the next seq; ``writes``: append the INSERT there instead of running it.

    ``pretest``: a seeded pretest item (stored as such: never scored).
    """
    attempt.n_presented += 1
    run_or_queue(
        writes,
        INSERT_PRESENTATION,
        dict(
            attempt_id=attempt.id,
            seq=attempt.n_presented,
            item_id=item_id,
            section_id=section.id,
            presented_at=now,
            marked=False,
            pretest=bool(pretest),
        ),
    )
    return attempt.n_presented


def run_or_queue(writes: list | None, statement, row: dict) -> None:
    """Run ``statement`` for ``row`` now, or (``writes`` given) append it to run with the others."""
    if writes is None:
        db.session.execute(statement, [row])
    else:
        writes.append((statement, row))


def count_exposure(item_ids: list[int]) -> None:
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


def start_section_clock(attempt: Attempt, section: ExamSection, now) -> None:
    """A running attempt's section with a time limit gets its own deadline, never past the exam's."""
    if attempt.status == "in_progress" and section.time_limit_min:
        attempt.section_deadline_at = min(
            attempt.deadline_at, now + timedelta(minutes=section.time_limit_min)
        )
    else:
        attempt.section_deadline_at = None


def begin_section(attempt: Attempt, index: int, now, finish_reason: str = "completed") -> None:
    """Present the section at ``index`` (1-based), skipping empty ones; past the last, finish.

    A running attempt's section clock starts here (a waiting one's at the start).
    """
    exam = cached_exam(exam_id_of(attempt))
    sections = exam_sections(exam.id)
    check_version()  # items are chosen now: none retired before this
    while index <= len(sections):
        section = sections[index - 1]
        attempt.section_index = index
        attempt.section_first_seq = attempt.n_presented + 1
        attempt.form = None
        if section.mode == "adaptive":
            pool = adaptive_pool(exam, section)
            rng = np.random.default_rng([attempt.seed, section.id, 0])
            step = irt.step(
                pool.bank, irt.CatState.new(pool.bank, seed=attempt.seed), pool.config, rng
            )
            first = [] if step.item is None else [pool.item_ids[step.item]]
            pretest = step.pretest
        else:
            form = attempt.form = draw_fixed_form(attempt, exam, section)  # kept to its end
            first = form if section.navigable else form[:1]
            pretest = False
        if first:
            db.session.execute(
                INSERT_PRESENTATION,
                [
                    dict(
                        attempt_id=attempt.id,
                        seq=attempt.n_presented + k,
                        item_id=item_id,
                        section_id=section.id,
                        presented_at=now,
                        pretest=pretest,
                    )
                    for k, item_id in enumerate(first, start=1)
                ],
            )
            attempt.n_presented += len(first)
            attempt.next_seq = attempt.section_first_seq
            if section.mode == "adaptive":  # fixed forms: exposure is their presentations
                count_exposure(first)
            start_section_clock(attempt, section, now)
            return
        index += 1
    attempt.section_deadline_at = None
    if attempt.status == "in_progress":
        finish(attempt, finish_reason, now)
    else:  # an exam without items: nothing to wait for
        attempt.status, attempt.finished_at, attempt.finish_reason = "finished", now, "completed"


def end_section_on_time(attempt: Attempt, now) -> None:
    """The section's own time is up: its answers are final; begin the next (after the last: finish)."""
    audit(
        "server",
        "section_time_up",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        section=current_section(attempt).code,
        section_deadline=attempt.section_deadline_at.isoformat(),
    )
    begin_section(attempt, attempt.section_index + 1, now, finish_reason="time_up")


def finish(attempt: Attempt, reason: str, now) -> None:
    attempt.status = "finished"
    attempt.finish_reason = reason
    attempt.finished_at = now
    attempt.section_deadline_at = None
    exam = cached_exam(exam_id_of(attempt))
    attempt.passed = passes(exam, attempt.section_scores or {}, attempt.total_score)
    audit(
        "server",
        "attempt_finished",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        finish_reason=reason,
        total=attempt.total_score,
    )


def shift_deadlines(attempt: Attempt, delta: timedelta) -> None:
    """Move the exam's deadline and the section's own (if any) by the same time."""
    attempt.deadline_at = attempt.deadline_at + delta
    if attempt.section_deadline_at is not None:
        attempt.section_deadline_at = attempt.section_deadline_at + delta
