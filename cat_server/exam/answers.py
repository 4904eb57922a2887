"""The answer hot path: check, score, update ability, present the next item, one commit.

``record_answer`` runs inside ``txn.run``: alone, or batched with other seats'
answers (SQLite group commit, the PostgreSQL answer lane); each answer stays
all-or-nothing and its reply (the next item, never its key) goes out only
after the commit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import sqlalchemy as sa

from .. import irt, txn
from ..errors import BadPayload, InvalidChoice, NotFound, NotInProgress, SectionOver, WrongSeq
from ..extensions import db
from ..models import Attempt, ExamSection, Item, Presentation, Response, audit
from .catalog import (
    adaptive_pool,
    cached_exam,
    cached_item,
    check_version,
    current_section,
    engine_score,
    exam_id_of,
    fixed_form,
    section_length,
)
from .chain import GENESIS, chain_hash, chain_key
from .clock import check_running
from .options import bank_choice
from .payloads import AnswerIn
from .scoring import keep_basis, scaled
from .sections import begin_section, count_exposure, present, run_or_queue
from .sessions import BY_SERVER, check_token
from .signals import announce_seat
from .views import attempt_state

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


_LATEST_RESPONSE = (
    db.select(Response.choice, Response.score)
    .where(Response.attempt_id == db.bindparam("attempt"), Response.seq == db.bindparam("seq"))
    .order_by(Response.n.desc())
    .limit(1)
)


# an adaptive section's answers in order, each with whether it was a seeded pretest item
_SECTION_ANSWERS = (
    db.select(Response.item_id, Response.choice, Presentation.pretest)
    .join(
        Presentation,
        (Presentation.attempt_id == Response.attempt_id) & (Presentation.seq == Response.seq),
    )
    .where(Response.attempt_id == db.bindparam("attempt"), Response.seq >= db.bindparam("first"))
    .order_by(Response.n)
)


# inline: no RETURNING of the new id (nobody reads it), so they can be pipelined
_INSERT_RESPONSE = Response.__table__.insert().inline()


def _section_last_seq(attempt: Attempt, section) -> int:
    """The last seq the current section can reach; any later one is a later section's."""
    return attempt.section_first_seq - 1 + section_length(cached_exam(exam_id_of(attempt)), section)


def record_answer(attempt_id: int, answer: AnswerIn, token=BY_SERVER) -> dict:
    """Check, score, present the next item: one transaction; the reply after the commit.

    The cookie's ``token`` must hold the attempt's session (SessionEnded; checked
    on the locked row). A repeated answer (same seq, same choice as stored)
    returns the current state and stores nothing. Raises TimeUp after the
    deadline (the attempt is finished then), SectionTimeUp after the section's
    own (the next one begins), WrongSeq, SectionOver, NotInProgress,
    InvalidChoice; a rejected answer leaves the attempt as it was.

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
    check_token(attempt, token)  # on the row just locked: a revoked cookie stores nothing
    section = current_section(attempt)
    if section.shuffle_options and answer.item == presented:  # the bank's letter from here on
        answer = replace(answer, choice=bank_choice(attempt, section, presented, answer.choice))
    if lane is not None and not _fits_the_lane(attempt, section, answer):
        raise txn.Bounce()  # nothing changed yet: it runs on its own after the batch
    latest = None
    if attempt.n_responses and (
        section.navigable or attempt.status != "in_progress" or answer.seq < attempt.next_seq
    ):
        latest = db.session.execute(
            _LATEST_RESPONSE, {"attempt": attempt.id, "seq": answer.seq}
        ).one_or_none()
    if latest is not None and latest.choice == answer.choice and answer.item == presented:
        state = attempt_state(attempt, full=False)  # like any answer's ack (docs/protocol.md)
        txn.rollback()
        if lane is not None:
            db.session.expunge(attempt)
        return {"ok": True, "repeat": True, "state": state}
    if latest is not None and attempt.status == "finished":
        raise NotInProgress(state=attempt_state(attempt))
    now = check_running(attempt)
    if not attempt.section_first_seq <= answer.seq <= attempt.n_presented:
        if 1 <= answer.seq < attempt.section_first_seq or answer.seq > _section_last_seq(
            attempt, section
        ):
            raise SectionOver(state=attempt_state(attempt))  # ended, or not begun
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
    so does one past a deadline, which ``check_running`` bounces.
    """
    if section.mode == "adaptive" or section.navigable or attempt.status != "in_progress":
        return False
    position = answer.seq - attempt.section_first_seq + 1
    return 1 <= position < len(fixed_form(attempt, cached_exam(exam_id_of(attempt)), section))


def prefetch_answers(calls: list[tuple]) -> dict:
    """The attempts of a batch's answers, locked in id order, each with the item at its seq.

    ``calls``: the ``(attempt_id, AnswerIn, token)`` of each answer. Returns
    ``{attempt_id: (seq, (attempt, presented item id))}`` for the first answer
    of each attempt. One statement for the whole batch; locking in id order
    means two processes' batches cannot deadlock on each other.
    """
    wanted: dict[int, int] = {}
    for attempt_id, answer, *_ in calls:
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
            attempt.next_seq = present(attempt, next_item, section, now, writes)
        else:
            begin_section(attempt, attempt.section_index + 1, now)
            full = True
    reply = {"ok": True, "state": attempt_state(attempt, full=full, next_item=next_item)}
    seat = (attempt.sitting_id, attempt.candidate_id)
    writes = writes or []
    writes += _attempt_update(attempt)
    txn.write(writes)
    db.session.expunge(attempt)  # written above: nothing left for the ORM to flush
    txn.commit()
    txn.after_commit(announce_seat, *seat)
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
    """INSERT the response (``writes``: append it there instead) and move the keyed chain on."""
    prev = attempt.chain_head or GENESIS
    attempt.n_responses += 1
    digest = chain_hash(
        prev, attempt.id, answer.seq, answer.item, answer.choice, score, now, key=chain_key()
    )
    run_or_queue(
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
    check_version()  # a retired item is never picked again, on any process
    pool = adaptive_pool(cached_exam(exam_id_of(attempt)), section)
    rows = db.session.execute(
        _SECTION_ANSWERS, {"attempt": attempt.id, "first": attempt.section_first_seq}
    ).all()
    db.session.flush()
    indices = [pool.index[r.item_id] for r in rows]
    scores = [engine_score(cached_item(r.item_id), r.choice) for r in rows]
    rng = np.random.default_rng([attempt.seed, section.id, len(rows)])
    step = irt.step_from_responses(
        pool.bank,
        indices,
        scores,
        pool.config,
        rng,
        pretest=[r.pretest for r in rows],  # as presented: the item's status may change since
        seed=attempt.seed,
    )
    attempt.theta, attempt.se = float(step.theta), float(step.se)
    score = scaled(step.theta)
    scores_by_section = dict(attempt.section_scores or {})
    attempt.total_score += score - scores_by_section.get(section.code, 0)
    scores_by_section[section.code] = score
    attempt.section_scores = scores_by_section
    # what this estimate used, signed: verify recomputes it after any recalibration
    keep_basis(
        attempt,
        section,
        [(r.item_id, s) for r, s in zip(rows, scores, strict=True) if not r.pretest],
    )
    if step.item is not None:
        item_id = pool.item_ids[step.item]
        attempt.next_seq = present(attempt, item_id, section, now, pretest=step.pretest)
        count_exposure([item_id])
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
    begin_section(attempt, attempt.section_index + 1, now)
    return True
