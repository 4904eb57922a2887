"""``/api/v1``: banks, exams, sittings, candidates and scores as JSON (docs/api.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, current_app, g, request, url_for

from ..admin import banks, candidates, exam_builder, scores, sittings
from ..admin.sittings import _
from ..admin.words import problem_text
from ..errors import MAX_ID, ExamError, Forbidden, NotFound
from ..extensions import csrf, db
from ..itembank.formats import BankFormatError
from ..localtime import iso_local, parse_local, zone_label
from ..models import Candidate, Exam, Sitting
from . import bp
from .tokens import user_for

csrf.exempt(bp)  # credentials come only in the Authorization header, never from a cookie


class Unauthorized(ExamError):
    status = 401
    code = "unauthorized"
    message = "Token API tidak ada, salah atau dicabut."
    message_en = "The API token is missing, wrong or revoked."

    @property
    def headers(self) -> dict:
        return {"WWW-Authenticate": 'Bearer realm="cat-server"'}


@bp.before_request
def authenticate():
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized()
    user, why = user_for(secret.strip())
    if why == "role":
        raise Forbidden()
    if user is None:
        raise Unauthorized()
    g.api_user = user
    request.max_content_length = current_app.config.get("ADMIN_MAX_UPLOAD", 64 * 1024 * 1024)


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"  # PINs and scores stay off every cache
    return response


@bp.errorhandler(sittings.FormProblems)
def form_problems(error):
    db.session.rollback()
    body = error.to_dict()
    body["problems"] = [{"field": f, "message": m} for f, m in error.problems]
    return body, 422


@bp.errorhandler(BankFormatError)
def file_problems(error):
    db.session.rollback()
    return {
        "ok": False,
        "error": "invalid_file",
        "message": "Berkas tidak dapat dipakai; tidak ada yang disimpan.",
        "message_en": "The file cannot be used; nothing was stored.",
        "n_problems": error.n_problems,
        "problems": [
            {"file": p.file, "row": p.row, "column": p.column, "message": problem_text(p)}
            for p in error.errors
        ],
    }, 422


def _actor() -> str:
    return f"user:{g.api_user.id}"


def _when(value: datetime | None) -> str | None:
    """A time as ISO 8601 with the centre's offset (+07:00 for WIB)."""
    return iso_local(value) or None


def _parse_when(text: str) -> datetime | None:
    """ISO 8601 with an offset, or without one in the centre's zone; None if neither."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is not None:
        return when.astimezone(UTC)
    return parse_local(text)


def _id(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def _body(default_name: str = "") -> tuple[bytes, str]:
    """A file as multipart ``file``, else the raw body (named by ``?filename=``), whatever
    its Content-Type: ``curl --data-binary`` says form-urlencoded, and parsing it as a form
    would leave no body to read."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            return upload.read(), upload.filename
        return b"", default_name
    return request.get_data(cache=False, parse_form_data=False), (
        request.args.get("filename") or default_name
    )


def _upload() -> tuple[bytes, str]:
    """A file as multipart ``file``, or the raw body with ``?filename=``."""
    data, name = _body()
    if not name or not data:
        raise sittings.FormProblems(
            [("file", "send the file as multipart field 'file', or as the body with ?filename=")]
        )
    return data, name


# --- banks ------------------------------------------------------------------


def _bank(bank, counts: dict) -> dict:
    return {
        "id": bank.id,
        "name": bank.name,
        "version": bank.version,
        "created_at": _when(bank.created_at),
        "items": counts,
    }


@bp.get("/banks")
def bank_list():
    return {"ok": True, "banks": [_bank(b, counts) for b, counts in banks.bank_list()]}


@bp.post("/banks")
def bank_import():
    data, filename = _upload()
    name = request.args.get("name") or request.form.get("name", "")
    bank = banks.upload_bank(data, filename, name, _actor())
    counts = {}
    for item in bank.items:
        counts[item.status] = counts.get(item.status, 0) + 1
    return {"ok": True, "bank": _bank(bank, counts), "sanitized": bank.n_sanitized}, 201


# --- exams ------------------------------------------------------------------


def _exam(exam: Exam) -> dict:
    return {
        "id": exam.id,
        "name": exam.name,
        "bank_id": exam.bank_id,
        "duration_min": exam.duration_s // 60,
        "pass_total": exam.pass_total,
        "show_result": exam.show_result,
        "sections": [
            {
                "code": s.code,
                "name": s.name,
                "mode": s.mode,
                "navigable": s.navigable,
                "n_items": s.n_items,
                "pass_mark": s.pass_mark,
                "time_limit_min": s.time_limit_min,
            }
            for s in exam.sections
        ],
    }


@bp.get("/exams")
def exam_list():
    exams = db.session.execute(db.select(Exam).order_by(Exam.id)).scalars().all()
    return {"ok": True, "exams": [_exam(e) for e in exams]}


@bp.get("/exams/<int:exam_id>")
def exam_detail(exam_id):
    """The exam file (docs/formats.md), the very text ``cat-server exam export`` writes."""
    if exam_id > MAX_ID:
        raise NotFound()
    return Response(exam_builder.export_exam_file(exam_id), mimetype="application/json")


@bp.post("/exams")
def exam_import():
    """A new exam from an exam file: checked like ``cat-server exam import``, all or nothing."""
    data, filename = _body("exam.json")
    try:
        if not data:
            raise sittings.FormProblems(
                [
                    (
                        "file",
                        _("kirim berkas ujian sebagai isi permintaan atau field multipart 'file'"),
                    )
                ]
            )
        exam = exam_builder.import_exam_file(data, filename, _actor())
    except sittings.FormProblems as error:
        db.session.rollback()
        body = error.to_dict() | {"error": "invalid_exam"}
        body["message"] = "Berkas ujian tidak dapat dipakai; tidak ada yang disimpan."
        body["message_en"] = "The exam file cannot be used; nothing was stored."
        body["problems"] = [
            {"file": filename, "field": where, "message": message}
            for where, message in error.problems
        ]
        return body, 422
    location = url_for("api.exam_detail", exam_id=exam.id)
    return {"ok": True, "exam": _exam(exam)}, 201, {"Location": location}


# --- sittings and candidates ------------------------------------------------


def _sitting(sitting: Sitting, n_candidates: int) -> dict:
    return {
        "id": sitting.id,
        "name": sitting.name,
        "room": sitting.room,
        "exam_id": sitting.exam_id,
        "status": sitting.status,
        "scheduled_at": _when(sitting.scheduled_at),
        "candidates": n_candidates,
        "proctors": [u.id for u in sitting.proctors],
        "package_slot": sitting.package_slot,
    }


def _counts() -> dict[int, int]:
    return dict(
        db.session.execute(
            db.select(Candidate.sitting_id, db.func.count()).group_by(Candidate.sitting_id)
        ).all()
    )


@bp.get("/sittings")
def sitting_list():
    rows = db.session.execute(db.select(Sitting).order_by(Sitting.id)).scalars().all()
    counts = _counts()
    return {"ok": True, "sittings": [_sitting(s, counts.get(s.id, 0)) for s in rows]}


@bp.post("/sittings")
def sitting_create():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise sittings.FormProblems([("body", "send a JSON object")])
    scheduled = body.get("scheduled_at")
    when = _parse_when(scheduled) if isinstance(scheduled, str) and scheduled else None
    if scheduled and when is None:
        raise sittings.FormProblems(
            [
                (
                    "scheduled_at",
                    "ISO 8601: 2026-12-07T08:00+07:00, or 2026-12-07T08:00 in the centre's "
                    f"zone ({zone_label()})",
                )
            ]
        )
    proctors = body.get("proctors") or []
    if not isinstance(proctors, list):
        raise sittings.FormProblems([("proctors", "a list of user ids")])
    slot = body.get("package_slot")
    if slot is not None and not isinstance(slot, str):
        raise sittings.FormProblems([("package_slot", "a slot name of the exam's package")])
    sitting = sittings.create_sitting(
        _id(body.get("exam_id")) or 0,
        str(body.get("name") or ""),
        str(body.get("room") or ""),
        when,
        [_id(p) or 0 for p in proctors],
        _actor(),
        slot=(slot or "").strip() or None,
    )
    return {"ok": True, "sitting": _sitting(sitting, 0)}, 201


@bp.post("/candidates")
def candidates_import():
    """The candidates CSV of docs/formats.md; the reply carries each new PIN, once."""
    data, filename = _upload()
    created = candidates.import_candidates(data, filename, _actor())
    return {
        "ok": True,
        "candidates": [
            {
                "registration_no": c.registration_no,
                "name": c.name,
                "sitting_id": c.sitting_id,
                "seat": c.seat,
                "pin": c.pin,
            }
            for c in created
        ],
    }, 201


# --- scores -----------------------------------------------------------------


@bp.get("/scores")
def score_export():
    """The scores document of docs/formats.md as JSON rows, for one sitting."""
    sitting_id = _id(request.args.get("sitting"))
    if sitting_id is None:
        raise sittings.FormProblems([("sitting", "give ?sitting=<id>")])
    sittings.get_sitting(sitting_id)
    header, rows = scores.score_rows(scores.select_attempts(sitting_id))
    return {
        "ok": True,
        "columns": header,
        "rows": [dict(zip(header, r, strict=True)) for r in rows],
    }
