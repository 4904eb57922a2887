"""The server's clock over attempts: deadlines, the reaper, the heartbeat, downtime credit.

A running attempt's deadline is checked on every event (``check_running``)
and by the reaper (``finish_expired``) whether a browser is there or not; the
heartbeat rows tell how long the server was down, and that time is credited
back at start-up. Pauses and extensions (the proctor's) move the deadlines
with ``sections.shift_deadlines``.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from .. import txn
from ..errors import NotInProgress, Paused, SectionTimeUp, TimeUp
from ..extensions import db
from ..models import Attempt, AuditEvent, Exam, Heartbeat, Response, Sitting, audit, utcnow
from .catalog import current_section
from .sections import (
    end_section_on_time,
    finish,
    lock_attempt,
    shift_deadlines,
    start_section_clock,
)
from .signals import announce_seat
from .views import attempt_state, push_state

HEARTBEAT_NAME = "server"
# when credit_downtime last credited a restart: the windows it covered are not credited twice
CREDITED_NAME = "credited"


def sitting_deadline(sitting: Sitting, duration_s: int):
    """When the sitting's own time ends: its start plus the exam's time, plus the
    sitting-wide pauses and the server downtime credited since (the moves every
    on-time attempt's deadline got). A pause still running is not in it: resuming
    moves every paused attempt's deadline, a late one's too."""
    rows = db.session.execute(
        db.select(AuditEvent.action, AuditEvent.data).where(
            AuditEvent.sitting_id == sitting.id,
            AuditEvent.action.in_(("sitting_resumed", "downtime_credit")),
            AuditEvent.at >= sitting.started_at,
        )
    ).all()
    paused = sum(
        float(data.get("paused_s", 0)) for action, data in rows if action == "sitting_resumed"
    )
    gaps = {
        data.get("since"): float(data.get("seconds", 0))
        for action, data in rows
        if action == "downtime_credit"
    }  # one row per attempt for one gap
    return sitting.started_at + timedelta(seconds=duration_s + paused + sum(gaps.values()))


def start_late(attempt: Attempt, sitting: Sitting, exam: Exam, now) -> None:
    """A login after the sitting started: audited as late, with how late and the time it got
    (the proctor's tile and the incident report say it). An exam that gives a late login only
    what is left (``Exam.late_login == "remaining"``) ends it with the sitting's own time."""
    if exam.late_login == "remaining":
        end = max(now, sitting_deadline(sitting, exam.duration_s))
        if end < attempt.deadline_at:
            attempt.deadline_at = end
            start_section_clock(attempt, current_section(attempt), now)
    audit(
        "server",
        "late_login",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        late_s=round(max(0.0, (now - sitting.started_at).total_seconds()), 1),
        granted_s=round((attempt.deadline_at - now).total_seconds(), 1),
        mode=exam.late_login,
        deadline=attempt.deadline_at.isoformat(),
    )


def check_running(attempt: Attempt):
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
        finish(attempt, "time_up", now)
        txn.commit()
        announce_seat(attempt.sitting_id, attempt.candidate_id)
        raise TimeUp(state=attempt_state(attempt))
    if attempt.section_deadline_at is not None and now >= attempt.section_deadline_at:
        # the reaper had not got to it yet: the section ends here, the next begins
        end_section_on_time(attempt, now)
        txn.commit()
        announce_seat(attempt.sitting_id, attempt.candidate_id)
        raise SectionTimeUp(state=attempt_state(attempt))
    return now


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
        attempt = lock_attempt(attempt_id)
        if (
            attempt.status == "in_progress"
            and attempt.deadline_at <= now
            and attempt.paused_at is None
        ):
            finish(attempt, "time_up", now)
            txn.commit()
            finished.append(attempt)
        else:
            txn.rollback()
    for attempt in finished:
        push_state(attempt)
        announce_seat(attempt.sitting_id, attempt.candidate_id)
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
        attempt = lock_attempt(attempt_id)
        if (
            attempt.status == "in_progress"
            and attempt.paused_at is None
            and attempt.section_deadline_at is not None
            and attempt.section_deadline_at <= now < attempt.deadline_at
        ):
            end_section_on_time(attempt, now)
            txn.commit()
            advanced.append(attempt)
        else:
            txn.rollback()
    for attempt in advanced:
        push_state(attempt)
        announce_seat(attempt.sitting_id, attempt.candidate_id)
    return [a.id for a in advanced]


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
        _credit(attempt, gap, alive_at, "server was down")
    last.beat_at = now
    credited = db.session.get(Heartbeat, CREDITED_NAME)
    if credited is None:
        db.session.add(Heartbeat(name=CREDITED_NAME, beat_at=now))
    else:
        credited.beat_at = now
    txn.commit()
    return gap


def credit_lost_process(attempt: Attempt, since, now=None) -> float:
    """A workstation whose server process died comes back on another: credit it the seconds.

    With several processes the others keep the heartbeat going, so
    ``credit_downtime`` sees no gap; the candidates of the dead process were
    still cut off from ``since`` (its last sign of life) until now. Nothing
    is credited twice: not before the last start-up credit, nor to a paused
    or finished attempt, nor past a deadline that had passed already. The
    caller commits. Returns the seconds credited.
    """
    now = now or utcnow()
    credited = db.session.get(Heartbeat, CREDITED_NAME)
    if credited is not None and credited.beat_at > since:
        since = credited.beat_at
    gap = (now - since).total_seconds()
    if (
        gap <= 0
        or attempt.status != "in_progress"
        or attempt.paused_at is not None
        or attempt.deadline_at is None
        or attempt.deadline_at <= since
    ):
        return 0.0
    _credit(attempt, gap, since, "server process died")
    return gap


def _credit(attempt: Attempt, gap: float, since, reason: str) -> None:
    """Shift the attempt's deadlines by ``gap`` seconds lost since ``since``; audited."""
    shift_deadlines(attempt, timedelta(seconds=gap))
    audit(
        "server",
        "downtime_credit",
        sitting_id=attempt.sitting_id,
        attempt_id=attempt.id,
        reason=reason,
        seconds=round(gap, 1),
        since=since.isoformat(),
        deadline=attempt.deadline_at.isoformat(),
    )


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
