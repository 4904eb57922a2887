"""Administrator pages. Thin: banks.py, sittings.py and scores.py do the work."""

from __future__ import annotations

import io
import math
import re
import time
from datetime import datetime

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from .. import spreadsheet, staff_sessions
from ..bodies import large_upload
from ..errors import MAX_ID, Forbidden, NotFound
from ..exam.catalog import public_item
from ..extensions import db, limiter, login_manager
from ..itembank.formats import FORMATS, BankFormatError
from ..localtime import parse_local, to_local
from ..models import (
    Attempt,
    AuditEvent,
    Candidate,
    Exam,
    ExamPackage,
    Item,
    ItemBank,
    Sitting,
    User,
)
from ..sealed.release import Sealed, package_of_bank
from . import banks, bp, candidates, chains, score_sheet, scores, sittings
from .packages import package_summary, packages

AUDIT_PAGE = 100

MIME = {
    "csv": "text/csv",  # Werkzeug adds "; charset=utf-8" to text/*: once is enough
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def said(error) -> str:
    """An ExamError's sentence in the page's language (it carries both)."""
    return error.message_en if str(get_locale()) == "en" and error.message_en else error.message


def actor() -> str:
    return f"user:{current_user.id}"


@bp.before_request
def require_admin():
    """Anonymous: to the login page. Proctors: 403. Idle admins log in again.

    Idle is the server's record of the user's activity (staff_sessions.py), never
    the cookie's: ``load_user`` refused the session, and says why.
    """
    if not current_user.is_authenticated:
        if not staff_sessions.timed_out():
            return login_manager.unauthorized()
        flash(_("Sesi admin berakhir karena tidak aktif; masuk lagi."), "error")
        # back to the same page after logging in again (a GET only: a form is not resent)
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=back))
    if not getattr(current_user, "is_admin", False):
        raise Forbidden()


def _int(value, default=None):
    """A form or query number that fits the database's integer columns, else ``default``.

    An id past them would overflow in the database (a 500); as "no such id" the
    form says what is wrong.
    """
    try:
        number = int(value)
    except (TypeError, ValueError):  # ValueError too for thousands of digits
        return default
    return number if -MAX_ID <= number <= MAX_ID else default


def _download(data: bytes, filename: str, fmt: str) -> Response:
    """An attachment named by the server (ids, parsed dates, ASCII slugs), never stored."""
    if not DOWNLOAD_NAME.fullmatch(filename):  # a caller passed text it did not make
        raise ValueError(f"download name {filename!r} is not a plain file name")
    response = send_file(
        io.BytesIO(data), mimetype=MIME[fmt], as_attachment=True, download_name=filename
    )
    response.headers["Cache-Control"] = "no-store"  # scores and banks stay off the disk cache
    return response


DOWNLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _slug(text: str) -> str:
    """ASCII letters and digits of ``text``, lower case, runs of anything else as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _when_label(when: datetime) -> str:
    when = to_local(when)  # the day or time the admin typed
    return when.strftime("%Y-%m-%dT%H%M" if (when.hour or when.minute) else "%Y-%m-%d")


@bp.route("/")
def dashboard():
    counts = {
        "banks": db.session.scalar(db.select(db.func.count()).select_from(ItemBank)),
        "items": db.session.scalar(db.select(db.func.count()).select_from(Item)),
        "exams": db.session.scalar(db.select(db.func.count()).select_from(Exam)),
        "sittings": db.session.scalar(db.select(db.func.count()).select_from(Sitting)),
        "candidates": db.session.scalar(db.select(db.func.count()).select_from(Candidate)),
        "finished": db.session.scalar(
            db.select(db.func.count()).select_from(Attempt).where(Attempt.status == "finished")
        ),
    }
    events = (
        db.session.execute(db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(15))
        .scalars()
        .all()
    )
    return render_template("admin/dashboard.html", counts=counts, events=events)


# --- banks ------------------------------------------------------------------


@bp.route("/banks", methods=["GET", "POST"])
@large_upload
def banks_page():
    errors, n_problems, status = None, 0, 200
    if request.method == "POST":
        upload = request.files.get("file")
        name = request.form.get("name", "")
        if upload is None or not upload.filename:
            flash(_("Pilih berkas bank soal."), "error")
            status = 422
        else:
            try:
                bank = banks.upload_bank(upload.read(), upload.filename, name, actor())
            except BankFormatError as error:
                db.session.rollback()
                errors, n_problems, status = error.errors, error.n_problems, 422
            else:
                flash(
                    _(
                        "Diimpor: %(n)s soal, %(name)s v%(version)s.",
                        n=len(bank.items),
                        name=bank.name,
                        version=bank.version,
                    )
                    + (
                        " " + _("%(n)s soal dibersihkan dari HTML berbahaya.", n=bank.n_sanitized)
                        if bank.n_sanitized
                        else ""
                    ),
                    "info",
                )
                return redirect(url_for("admin.bank_detail", bank_id=bank.id))
    return render_template(
        "admin/banks.html",
        banks=banks.bank_list(),
        errors=errors,
        n_problems=n_problems,
        name=request.form.get("name", ""),
    ), status


@bp.route("/banks/<int:bank_id>")
def bank_detail(bank_id):
    bank = banks.get_bank(bank_id)
    section = request.args.get("section") or None
    items = [i for i in bank.items if section is None or i.section == section]
    sections = sorted({i.section for i in bank.items})
    return render_template(
        "admin/bank.html",
        bank=bank,
        items=items,
        sections=sections,
        section=section,
        formats=FORMATS,
        package=package_of_bank(bank.id),
    )


@bp.route("/banks/<int:bank_id>/export.<fmt>")
def bank_export(bank_id, fmt):
    if fmt not in FORMATS:
        raise NotFound()
    bank = banks.get_bank(bank_id)
    if package_of_bank(bank.id) is not None:
        raise Sealed()
    slug = _slug(bank.name) or "bank"
    return _download(banks.export_file(bank, fmt), f"{slug}-v{bank.version}.{fmt}", fmt)


@bp.route("/items/<int:item_id>/status", methods=["POST"])
def item_status(item_id):
    item = banks.set_item_status(
        item_id, request.form.get("status", ""), actor(), request.form.get("reason", "").strip()
    )
    words = {"active": _("aktif"), "pretest": _("pretest"), "retired": _("pensiun")}
    flash(_("Soal %(code)s kini %(status)s.", code=item.code, status=words[item.status]), "info")
    return redirect(url_for("admin.bank_detail", bank_id=item.bank_id) + f"#item-{item.id}")


@bp.route("/items/<int:item_id>/preview")
def item_preview(item_id):
    """The item as a workstation shows it: the same sanitised HTML, markup and stylesheet."""
    item = db.session.get(Item, item_id) if item_id <= MAX_ID else None
    if item is None:
        raise NotFound()
    if package_of_bank(item.bank_id) is not None:  # not even once released: Sealed
        raise Sealed()
    public = public_item(item.id)  # a first read caches the item detached: read it again
    item = db.session.get(Item, item_id)
    return render_template("admin/item_preview.html", item=item, public=public)


# --- exams ------------------------------------------------------------------


@bp.route("/exams", methods=["GET", "POST"])
def exams_page():
    problems, status = [], 200
    if request.method == "POST":
        try:
            sittings.create_exam(
                request.form.get("name", ""),
                _int(request.form.get("bank_id")),
                _int(request.form.get("duration_min")),
                request.form.get("sections", ""),
                _int(request.form.get("pass_total")),
                actor(),
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            problems, status = error.problems, 422
        else:
            flash(_("Ujian dibuat."), "info")
            return redirect(url_for("admin.exams_page"))
    exams = db.session.execute(db.select(Exam).order_by(Exam.id.desc())).scalars().all()
    bank_versions = (
        db.session.execute(db.select(ItemBank).order_by(ItemBank.name, ItemBank.version.desc()))
        .scalars()
        .all()
    )
    from ..proctor import board

    return render_template(
        "admin/exams.html",
        exams=exams,
        banks=bank_versions,
        problems=problems,
        form=request.form,
        board_fields=board.FIELDS,
        board_fields_of=board.fields_of,
        # a sealed package's exam is never previewed (its items stay sealed)
        sealed_exams=set(db.session.execute(db.select(ExamPackage.exam_id)).scalars()),
    ), status


@bp.route("/exams/<int:exam_id>/board", methods=["POST"])
def exam_board(exam_id):
    """The exam's public score board: on/off and its fields, with a reason (audited)."""
    from ..errors import BadPayload
    from ..proctor import board, feed

    exam = db.session.get(Exam, exam_id)
    if exam is None:
        raise NotFound("Ujian tidak ditemukan.", "Exam not found.")
    try:
        settings = board.configure(
            exam,
            request.form.get("enabled") == "1",
            request.form.getlist("fields"),
            actor(),
            request.form.get("reason", ""),
        )
    except BadPayload as error:
        db.session.rollback()
        flash(f"{exam.name}: {said(error)}", "error")
    else:
        for sitting_id in db.session.execute(
            db.select(Sitting.id).where(Sitting.exam_id == exam.id, Sitting.status != "ended")
        ).scalars():
            feed.seat_changed(sitting_id)  # open boards re-render (or go dark) now
        if settings["enabled"]:
            flash(_("%(exam)s: papan skor aktif.", exam=exam.name), "info")
        else:
            flash(_("%(exam)s: papan skor mati.", exam=exam.name), "info")
    return redirect(url_for("admin.exams_page") + f"#board-{exam.id}")


# --- sittings ---------------------------------------------------------------


@bp.route("/sittings", methods=["GET", "POST"])
def sittings_page():
    problems, status = [], 200
    if request.method == "POST":
        try:
            sitting = sittings.create_sitting(
                _int(request.form.get("exam_id")),
                request.form.get("name", ""),
                request.form.get("room", ""),
                parse_local(request.form.get("scheduled_at")),  # typed in the centre's zone
                [_int(p, 0) for p in request.form.getlist("proctors")],
                actor(),
                slot=request.form.get("package_slot", "").strip() or None,
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            problems, status = error.problems, 422
        else:
            flash(_("Sesi dijadwalkan."), "info")
            return redirect(url_for("admin.sitting_detail", sitting_id=sitting.id))
    return _sittings_template(problems=problems), status


def _sittings_template(**extra):
    rows = (
        db.session.execute(
            db.select(Sitting).order_by(Sitting.scheduled_at.desc().nulls_last(), Sitting.id.desc())
        )
        .scalars()
        .all()
    )
    counts = dict(
        db.session.execute(
            db.select(Candidate.sitting_id, db.func.count()).group_by(Candidate.sitting_id)
        ).all()
    )
    exams = db.session.execute(db.select(Exam).order_by(Exam.id.desc())).scalars().all()
    proctors = (
        db.session.execute(
            db.select(User).where(User.role == "proctor", User.active).order_by(User.name)
        )
        .scalars()
        .all()
    )
    return render_template(
        "admin/sittings.html",
        sittings=rows,
        counts=counts,
        exams=exams,
        proctors=proctors,
        package_slots=sorted({s for p in packages() for s in package_summary(p)["slots"]}),
        form=request.form,
        **{"problems": [], "errors": None, "n_problems": 0, **extra},
    )


@bp.route("/sittings/<int:sitting_id>")
def sitting_detail(sitting_id):
    return _sitting_template(sitting_id)


def _sitting_template(sitting_id, problems=(), failed=None):
    sitting = sittings.get_sitting(sitting_id)
    enrolled = (
        db.session.execute(
            db.select(Candidate)
            .where(Candidate.sitting_id == sitting.id)
            .order_by(Candidate.registration_no)
        )
        .scalars()
        .all()
    )
    proctors = (
        db.session.execute(
            db.select(User).where(User.role == "proctor", User.active).order_by(User.name)
        )
        .scalars()
        .all()
    )
    return render_template(
        "admin/sitting.html",
        sitting=sitting,
        candidates=enrolled,
        proctors=proctors,
        problems=list(problems),
        failed=failed,
    )


@bp.route("/candidates/import", methods=["POST"])
@large_upload
def candidates_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Pilih berkas CSV peserta."), "error")
        return _sittings_template(), 422
    try:
        created = candidates.import_candidates(upload.read(), upload.filename, actor())
    except BankFormatError as error:
        db.session.rollback()
        return _sittings_template(errors=error.errors, n_problems=error.n_problems), 422
    return render_template(
        "admin/slips.html",
        slips=created,
        title=f"{len(created)} peserta diimpor / candidates imported",
    )


@bp.route("/sittings/<int:sitting_id>/pins", methods=["POST"])
def sitting_pins(sitting_id):
    try:
        slips = candidates.reset_pins(sitting_id, actor(), request.form.get("reason"))
    except sittings.FormProblems as error:
        db.session.rollback()
        return _sitting_template(sitting_id, problems=error.problems, failed="pins"), 422
    everyone = db.session.scalar(
        db.select(db.func.count()).select_from(Candidate).where(Candidate.sitting_id == sitting_id)
    )
    kept = everyone - len(slips)  # begun or finished: their PINs stay (candidates.reset_pins)
    title = _("PIN baru: %(n)s", n=len(slips))
    if kept:
        title += " — " + _("%(n)s peserta sudah mulai, PIN tetap", n=kept)
    return render_template("admin/slips.html", slips=slips, title=title)


# --- scores -----------------------------------------------------------------


@bp.route("/scores")
def scores_page():
    return render_template("admin/scores.html", sittings=scores.sittings_for_export())


def _selected_attempts():
    """The attempts asked for, and a label for the file name made of what the server parsed.

    Dates and times are the centre's (a date is that local day); "to" includes its day.
    """
    sitting_id = _int(request.args.get("sitting"))
    date_from = parse_local(request.args.get("from", ""))
    date_to = parse_local(request.args.get("to", ""))
    if sitting_id is None and date_from is None and date_to is None:
        raise sittings.FormProblems([("sitting", _("pilih sesi atau rentang tanggal"))])
    if sitting_id is not None:
        sittings.get_sitting(sitting_id)
        label = f"sitting-{sitting_id}"
    elif date_from is not None and date_to is not None:
        label = f"{_when_label(date_from)}_{_when_label(date_to)}"
    elif date_from is not None:
        label = f"from-{_when_label(date_from)}"
    else:
        label = f"until-{_when_label(date_to)}"
    if date_to is not None:
        date_to = parse_local(request.args.get("to", ""), end_of_day=True)
    return scores.select_attempts(sitting_id, date_from, date_to), label


@bp.route("/scores/export.<fmt>")
def scores_export(fmt):
    if fmt not in ("csv", "xlsx"):
        raise NotFound()
    attempts, label = _selected_attempts()
    header, rows = scores.score_rows(attempts)
    if fmt == "csv":
        data = scores.to_csv(header, rows)
    else:
        data = score_sheet.workbook(attempts, header, rows)
    return _download(data, f"scores-{label}.{fmt}", fmt)


@bp.route("/scores/responses.csv")
def responses_export():
    attempts, label = _selected_attempts()
    header, rows = scores.wide_responses(attempts)
    data = spreadsheet.csv_bytes(header, rows, bom=False)  # calibration reads it: no BOM
    return _download(data, f"responses-{label}.csv", "csv")


@bp.route("/scores/response-log.csv")
def response_log_export():
    """Every stored response in the order written, with its chain hashes (docs/formats.md)."""
    attempts, label = _selected_attempts()
    header, rows = scores.response_log(attempts)
    return _download(spreadsheet.csv_bytes(header, rows), f"response-log-{label}.csv", "csv")


# --- audit and integrity ------------------------------------------------------


@bp.route("/audit")
def audit_page():
    """The audit trail, newest first, a page at a time; filtered by who, action and sitting.

    Candidates' own events (focus lost, logins) can number thousands a sitting:
    the "staff" view keeps the proctors' and admins' actions in reach.
    """
    who = request.args.get("who", "all")
    action = request.args.get("action", "").strip()[:40]
    sitting_id = _int(request.args.get("sitting"))
    before = _int(request.args.get("before"))
    events = scores.audit_events(who, action, sitting_id, before, AUDIT_PAGE + 1)
    older = events[AUDIT_PAGE].id + 1 if len(events) > AUDIT_PAGE else None
    return render_template(
        "admin/audit.html",
        events=events[:AUDIT_PAGE],
        who=who,
        action=action,
        sitting=sitting_id,
        older=older,
        whos=scores.AUDIT_WHO,
    )


@bp.route("/verify", methods=["POST"])
def verify():
    report = chains.verify_report()
    # what the check found, not a refused form (base.html's banner reads ``problems``)
    report["departures"] = report.pop("problems")
    return render_template("admin/verify.html", **report)


@bp.app_errorhandler(429)
def too_many_logins(error):
    """The per-address login limit was hit (the others answer in lockout.py): as they do."""
    from ..errors import TooManyAttempts, wants_json

    db.session.rollback()
    limit = getattr(error, "limit", None)
    retry, breached = None, limiter.current_limit
    if breached is not None:  # when the breached window ends, rounded up as lockout.py does
        retry = max(1, math.ceil(breached.window[0] - time.time()))
    problem = TooManyAttempts(
        limit=str(limit.limit) if limit is not None else None, retry_after=retry, scope="ip"
    )
    if wants_json():
        return problem.to_dict(), 429, problem.headers
    return render_template("error.html", error=problem), 429, problem.headers
