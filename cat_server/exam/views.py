"""What a candidate's browser sees: the attempt's state, its result, its item media.

Builds snapshots and sends them; never changes an attempt. Never sends a key,
item parameters, or whether an answer was right before the attempt is finished.
"""

from __future__ import annotations

from ..errors import Forbidden, NotFound
from ..extensions import db, socketio
from ..itembank.service import image_file, media_file
from ..models import Attempt, Exam, Item, Presentation, Response, Sitting, sitting_proctor, utcnow
from ..sealed.release import package_of_bank, sealed_media
from .catalog import (
    cached_exam,
    exam_id_of,
    exam_length,
    exam_sections,
    section_length,
)
from .options import shown_choice, shown_item
from .payloads import PROTOCOL_VERSION

_PRESENTED_ITEM = db.select(Presentation.item_id).where(
    Presentation.attempt_id == db.bindparam("attempt"), Presentation.seq == db.bindparam("seq")
)


def attempt_state(attempt: Attempt, full: bool = True, next_item: int | None = None) -> dict:
    """A snapshot for the candidate's page: enough to re-render (``full``: with every item).

    ``next_item``: the item at ``attempt.next_seq`` when the caller just presented it
    (saves reading it back).
    """
    now = utcnow()
    exam = cached_exam(exam_id_of(attempt))
    sections = exam_sections(exam.id)
    state = {
        "protocol": PROTOCOL_VERSION,
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
        if full and attempt.section_index > 1:  # closed sections never change: full states only
            counts = _closed_counts(attempt, exam, sections)
            for entry, s in zip(state["sections"], sections, strict=True):
                entry.update(counts.get(s.id, {}))
    elif attempt.status == "finished":
        state["finish_reason"] = attempt.finish_reason
        state["n_items"] = _items_of(attempt, exam, sections)
        if exam.show_result:
            state["result"] = result_of(attempt)
    return state


def _items_of(attempt: Attempt, exam: Exam, sections) -> int:
    """How many items the finished attempt had: those presented, plus those never reached.

    A section the attempt completed counts what it presented (an adaptive one
    may stop early); one cut short by the clock or the proctor counts its full
    length, and so do the sections after it: their items are blank, not absent.
    """
    if attempt.finish_reason == "completed":
        return attempt.n_presented
    if not attempt.section_index:  # ended before it began
        return exam_length(exam.id)
    index = min(attempt.section_index, len(sections))
    current = sections[index - 1]
    shown = attempt.n_presented - attempt.section_first_seq + 1
    rest = sum(section_length(exam, s) for s in sections[index:])
    return attempt.n_presented + max(0, section_length(exam, current) - shown) + rest


def _closed_counts(attempt: Attempt, exam: Exam, sections) -> dict[int, dict]:
    """section id -> {items, answered, marked} of each section the attempt has closed.

    ``items``: what the section presented (an adaptive one may stop early), or,
    for a fixed one, its whole form (the clock may have closed it half seen: the
    rest is blank, not absent).
    """
    closed = sections[: attempt.section_index - 1]
    before = Presentation.seq < attempt.section_first_seq
    marked = db.func.sum(db.case((Presentation.marked, 1), else_=0))
    shown = {
        section_id: (n, int(m or 0))
        for section_id, n, m in db.session.execute(
            db.select(Presentation.section_id, db.func.count(), marked)
            .where(Presentation.attempt_id == attempt.id, before)
            .group_by(Presentation.section_id)
        )
    }
    answered = dict(
        db.session.execute(
            db.select(Presentation.section_id, db.func.count(db.distinct(Response.seq)))
            .join(
                Response,
                (Response.attempt_id == Presentation.attempt_id)
                & (Response.seq == Presentation.seq),
            )
            .where(Presentation.attempt_id == attempt.id, before)
            .group_by(Presentation.section_id)
        ).all()
    )
    counts = {}
    for s in closed:
        n, m = shown.get(s.id, (0, 0))
        items = n if s.mode == "adaptive" else max(n, section_length(exam, s))
        counts[s.id] = {"items": items, "answered": answered.get(s.id, 0), "marked": m}
    return counts


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
        view.update(seq=attempt.next_seq, item=shown_item(attempt, section, presented))
        return view
    rows = db.session.execute(
        db.select(Presentation.seq, Presentation.item_id, Presentation.marked)
        .where(Presentation.attempt_id == attempt.id, Presentation.seq >= attempt.section_first_seq)
        .order_by(Presentation.seq)
    ).all()
    answers = {}
    for seq, item_id, choice in db.session.execute(
        db.select(Response.seq, Response.item_id, Response.choice)
        .where(Response.attempt_id == attempt.id, Response.seq >= attempt.section_first_seq)
        .order_by(Response.n)
    ):
        # the latest row per seq wins; shown as this attempt labels the options
        answers[str(seq)] = shown_choice(attempt, section, item_id, choice)
    view["section"]["answered"] = len(answers)
    current = next((r for r in rows if str(r.seq) not in answers), None)
    view.update(
        seq=current.seq if current else None,
        item=shown_item(attempt, section, current.item_id) if current else None,
        answers=answers,
        marked=[r.seq for r in rows if r.marked],
    )
    if full:
        view["items"] = [
            {"seq": r.seq, "item": shown_item(attempt, section, r.item_id)} for r in rows
        ]
    return view


def result_of(attempt: Attempt) -> dict:
    exam = cached_exam(exam_id_of(attempt))
    scores = attempt.section_scores or {}
    if exam.result_view == "total":  # the total and pass/fail only
        return {
            "sections": [],
            "total": attempt.total_score,
            "pass_total": exam.pass_total,
            "passed": attempt.passed,
        }
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


def item_media(item_id: int, attempt_id: int | None, staff=None):
    """(path, or a sealed item's file decrypted in memory; content type) of an item's media.

    A candidate gets only the media of an item already presented to their own
    attempt, and only while it runs: not while waiting for the start (the
    first section's items are presented at login), not after the end.
    ``staff`` (the logged-in user): an admin any item's media, a proctor only
    of banks used by sittings they proctor. NotFound otherwise, so nothing
    tells whether an item has media; nobody else: Forbidden.
    """
    item = _viewable(item_id, attempt_id, staff)
    found = (sealed_media(item_id) or media_file(item)) if item is not None else None
    if found is None:
        raise NotFound()
    return found


def inline_image(item_id: int, n: int, attempt_id: int | None, staff=None):
    """(path, content type) of the n-th image inside an item's HTML; who may see it as item_media."""
    found = image_file(item, n) if (item := _viewable(item_id, attempt_id, staff)) else None
    if found is None:
        raise NotFound()
    return found


def _viewable(item_id: int, attempt_id: int | None, staff) -> Item | None:
    """The item if this page may show its media (see item_media); NotFound or Forbidden if not."""
    item = db.session.get(Item, item_id)
    if staff is not None:
        if item is None or not (staff.is_admin or _proctors_bank(staff.id, item.bank_id)):
            raise NotFound()
    else:
        if attempt_id is None:
            raise Forbidden()
        presented = db.session.execute(
            db.select(Presentation.id)
            .join(Attempt, Attempt.id == Presentation.attempt_id)
            .where(
                Presentation.attempt_id == attempt_id,
                Presentation.item_id == item_id,
                Attempt.status == "in_progress",
            )
            .limit(1)
        ).first()
        if presented is None:
            raise NotFound()
    if staff is not None and item is not None and package_of_bank(item.bank_id) is not None:
        raise NotFound()  # a sealed package's media: only to the candidates it is presented to
    return item


def _proctors_bank(user_id: int, bank_id: int) -> bool:
    """True if the user proctors a sitting whose exam draws on the bank."""
    return (
        db.session.execute(
            db.select(Sitting.id)
            .join(Exam, Exam.id == Sitting.exam_id)
            .join(sitting_proctor, sitting_proctor.c.sitting_id == Sitting.id)
            .where(Exam.bank_id == bank_id, sitting_proctor.c.user_id == user_id)
            .limit(1)
        ).first()
        is not None
    )
