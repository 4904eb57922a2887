"""The public score board for the waiting hall: ``/board/<sitting>`` and namespace ``/board``.

Read-only, no login, off unless the sitting's exam turns it on
(``Exam.board_enabled``). It shows only the exam's ``board_fields``, and
scores (sections, total, passed) only of finished attempts: a waiting or
running row is null there, whatever it has answered. The registration number is always masked (2026****0001). Rows carry no database
ids: the board re-renders from every ``board`` message (a full snapshot, at
most one a second per sitting).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_socketio import Namespace, join_room

from ..errors import BadPayload, NotFound, is_id
from ..exam import catalog
from ..extensions import db, socketio
from ..models import Attempt, Candidate, Exam, Seat, Sitting, audit, utcnow
from ..realtime import acked

# what a board row may show, in display order
FIELDS = ("seat", "registration_no", "name", "sections", "total", "passed", "progress")
DEFAULT_FIELDS = ["seat", "registration_no", "name", "sections", "total", "passed"]
RECENT_S = 180  # an attempt finished this recently is "new" on the board

bp = Blueprint("board", __name__)


def check_fields(fields) -> list[str]:
    """The fields list, or BadPayload naming the first unknown field."""
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadPayload(
            "Daftar kolom papan skor tidak valid.",
            "board fields must be a list of names.",
            field="fields",
        )
    for name in fields:
        if name not in FIELDS:
            raise BadPayload(
                f"Kolom papan skor tidak dikenal: {name}.",
                f"Unknown board field {name!r}; expected some of {', '.join(FIELDS)}.",
                field="fields",
            )
    return [f for f in FIELDS if f in fields]


def configure(
    exam: Exam, enabled: bool, fields, actor: str, reason: str, sitting_id: int | None = None
) -> dict:
    """Turn the exam's board on or off and choose its fields (None: the defaults); audited.

    Checks everything before writing: unknown fields, none chosen for a board
    that is on, or no reason raise BadPayload and change nothing.
    """
    if fields is not None:
        fields = check_fields(fields)
        if enabled and not fields:
            raise BadPayload(
                "Pilih minimal satu kolom papan skor.",
                "Choose at least one board field.",
                field="fields",
            )
    if not isinstance(reason, str) or not reason.strip():
        raise BadPayload("Alasan wajib diisi.", "A reason is required.", field="reason")
    exam.board_enabled = bool(enabled)
    exam.board_fields = fields
    audit(
        actor,
        "board_configured",
        sitting_id=sitting_id,
        reason=reason.strip(),
        exam=exam.id,
        enabled=exam.board_enabled,
        fields=fields,
    )
    db.session.commit()
    return {"enabled": exam.board_enabled, "fields": fields_of(exam)}


def fields_of(exam: Exam) -> list[str]:
    return list(exam.board_fields) if exam.board_fields is not None else list(DEFAULT_FIELDS)


def mask(registration_no: str) -> str:
    """2026****0001: the first and last four characters stay, the middle is starred."""
    n = len(registration_no)
    keep = 4 if n > 8 else max(1, n // 4)
    return registration_no[:keep] + "*" * max(4, n - 2 * keep) + registration_no[n - keep :]


def get_public(sitting_id: int) -> Sitting:
    """The sitting if its exam shows a board; 404 otherwise (the same for unknown and off)."""
    sitting = db.session.get(Sitting, sitting_id)
    if sitting is None or not sitting.exam.board_enabled:
        raise NotFound(
            "Papan skor tidak tersedia untuk sesi ini.", "No score board for this sitting."
        )
    return sitting


def board_snapshot(sitting_id: int) -> dict:
    """Every present candidate's row with only the configured fields."""
    sitting = get_public(sitting_id)
    exam = sitting.exam
    fields = fields_of(exam)
    sections = [
        {"code": s.code, "name": s.name, "pass_mark": s.pass_mark}
        for s in catalog.exam_sections(exam.id)
    ]
    rows = []
    now = utcnow()
    recent = []  # (finished_at, row index) of the attempts finished in the last RECENT_S
    query = (
        db.select(Candidate, Seat.label, Attempt)
        .join(Attempt, Attempt.candidate_id == Candidate.id)
        .outerjoin(Seat, Candidate.seat_id == Seat.id)
        .where(Candidate.sitting_id == sitting_id)
        .order_by(Seat.position, Candidate.registration_no)
    )
    for candidate, label, attempt in db.session.execute(query):
        row = {}
        # Scores only once the attempt is over: a score that moves while the
        # candidate can still change an answer tells the room whether that
        # answer was right (issue 16).
        finished = attempt.status == "finished"
        scores = attempt.section_scores or {}
        for field in fields:
            if field == "seat":
                row["seat"] = label
            elif field == "registration_no":
                row["registration_no"] = mask(candidate.registration_no)
            elif field == "name":
                row["name"] = candidate.name
            elif field == "sections":
                row["sections"] = (
                    {s["code"]: scores.get(s["code"], 0) for s in sections} if finished else None
                )
            elif field == "total":
                row["total"] = attempt.total_score if finished else None
            elif field == "passed":
                row["passed"] = attempt.passed if finished else None
            elif field == "progress":
                row["progress"] = {"answered": attempt.n_answered, "total": attempt.n_items}
        row["status"] = attempt.status  # waiting | in_progress | finished
        if (
            finished
            and attempt.finished_at
            and (now - attempt.finished_at).total_seconds() < RECENT_S
        ):
            recent.append((attempt.finished_at, len(rows)))
        rows.append(row)
    snapshot = {
        "sitting": {
            "name": sitting.name,
            "exam": exam.name,
            "room": sitting.room,
            "status": sitting.status,
        },
        "fields": fields,
        "sections": sections if "sections" in fields else [],
        "pass_total": exam.pass_total,
        "rows": rows,
        # newly finished rows (indices into rows), the newest first: the board shows them first
        "recent": [i for _, i in sorted(recent, reverse=True)],
    }
    db.session.rollback()  # read-only
    return snapshot


def is_enabled(sitting_id: int) -> bool:
    return bool(
        db.session.execute(
            db.select(Exam.board_enabled)
            .join(Sitting, Sitting.exam_id == Exam.id)
            .where(Sitting.id == sitting_id)
        ).scalar_one_or_none()
    )


def push(sitting_id: int) -> None:
    """Send the board snapshot to the sitting's board screens (the feed calls this)."""
    if is_enabled(sitting_id):
        socketio.emit(
            "board", board_snapshot(sitting_id), namespace="/board", to=f"board:{sitting_id}"
        )
    else:
        db.session.rollback()
        socketio.emit("board", {"off": True}, namespace="/board", to=f"board:{sitting_id}")


@bp.route("/board/<int:sitting_id>")
def page(sitting_id):
    sitting = get_public(sitting_id)
    return render_template("board/board.html", sitting=sitting)


class BoardNamespace(Namespace):
    """Public, read-only: no login, no events other than ``watch``."""

    def on_connect(self, auth=None):
        return True

    @acked
    def on_watch(self, data):
        if not isinstance(data, dict) or not is_id(data.get("sitting")):
            raise BadPayload(field="sitting")
        snapshot = board_snapshot(data["sitting"])
        join_room(f"board:{data['sitting']}")
        return {"ok": True, **snapshot}


socketio.on_namespace(BoardNamespace("/board"))
