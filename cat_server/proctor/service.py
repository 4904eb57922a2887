"""Proctor rules: which sittings a user may watch, and seat snapshots."""

from __future__ import annotations

from flask_login import current_user

from ..errors import Forbidden
from ..exam import service as exam_service
from ..extensions import db
from ..models import Attempt, Candidate, Seat, Sitting, User, sitting_proctor, utcnow


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
    sitting = exam_service.get_sitting(sitting_id)
    if not is_staff(user):
        raise Forbidden()
    if not user.is_admin and user not in sitting.proctors:
        raise Forbidden("Anda bukan pengawas sesi ini.", "You are not a proctor of this sitting.")
    return sitting


def seat_status(attempt: Attempt | None) -> str:
    """absent / waiting / answering / finished / disconnected, as the grid shows it."""
    if attempt is None:
        return "absent"
    if attempt.status == "finished":
        return "finished"
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
    seats = []
    for candidate, label, attempt in db.session.execute(query):
        remaining = None
        if attempt is not None and attempt.status == "in_progress":
            remaining = max(0.0, round((attempt.deadline_at - now).total_seconds(), 1))
        seats.append({
            "candidate": candidate.id,
            "seat": label,
            "registration_no": candidate.registration_no,
            "name": candidate.name,
            "status": seat_status(attempt),
            "answered": attempt.n_answered if attempt else 0,
            "total": attempt.n_items if attempt else 0,
            "remaining_s": remaining,
            "last_seen": attempt.last_seen_at.isoformat() if attempt and attempt.last_seen_at else None,
        })
    counts = dict.fromkeys(("absent", "waiting", "answering", "disconnected", "finished"), 0)
    for status, n in _status_counts(sitting_id):
        counts[status] += n
    db.session.rollback()  # read-only: release the connection promptly
    return {
        "sitting": {"id": sitting.id, "name": sitting.name, "status": sitting.status,
                    "room": sitting.room},
        "server_time": now.isoformat(),
        "full": candidate_ids is None,
        "counts": counts,
        "seats": seats,
    }


def _status_counts(sitting_id: int):
    rows = db.session.execute(
        db.select(Attempt.status, Attempt.connected_sid.is_(None), db.func.count())
        .where(Attempt.sitting_id == sitting_id)
        .group_by(Attempt.status, Attempt.connected_sid.is_(None))
    ).all()
    enrolled = db.session.execute(
        db.select(db.func.count()).select_from(Candidate).where(Candidate.sitting_id == sitting_id)
    ).scalar_one()
    present = 0
    for status, no_socket, n in rows:
        present += n
        if status == "finished":
            yield "finished", n
        elif no_socket:
            yield "disconnected", n
        else:
            yield ("answering" if status == "in_progress" else "waiting"), n
    yield "absent", enrolled - present
