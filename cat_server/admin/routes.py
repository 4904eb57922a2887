"""Administrator pages. Thin: banks.py, sittings.py and scores.py do the work."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from .. import staff_sessions
from ..errors import Forbidden, NotFound
from ..extensions import db, login_manager
from ..itembank.formats import FORMATS, BankFormatError
from ..itembank.service import export_bank
from ..models import (
    Attempt,
    AuditEvent,
    Candidate,
    Exam,
    Item,
    ItemBank,
    Sitting,
    User,
)
from ..spreadsheet import escape_cell
from . import banks, bp, scores, sittings

MIME = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


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
        flash("Sesi admin berakhir karena tidak aktif. / Session timed out.", "error")
        # back to the same page after logging in again (a GET only: a form is not resent)
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=back))
    if not getattr(current_user, "is_admin", False):
        raise Forbidden()
    request.max_content_length = current_app.config.get("ADMIN_MAX_UPLOAD", 64 * 1024 * 1024)


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _parse_when(text: str) -> datetime | None:
    text = (text or "").strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _download(data: bytes, filename: str, fmt: str) -> Response:
    return Response(
        data,
        mimetype=MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


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
def banks_page():
    errors, n_problems, status = None, 0, 200
    if request.method == "POST":
        upload = request.files.get("file")
        name = request.form.get("name", "")
        if upload is None or not upload.filename:
            flash("Pilih berkas bank soal. / Choose a bank file.", "error")
            status = 422
        else:
            try:
                bank = banks.upload_bank(upload.read(), upload.filename, name, actor())
            except BankFormatError as error:
                db.session.rollback()
                errors, n_problems, status = error.errors, error.n_problems, 422
            else:
                flash(
                    f"Diimpor / Imported: {len(bank.items)} soal, {bank.name} v{bank.version}"
                    + (
                        f" ({bank.n_sanitized} dibersihkan dari HTML berbahaya / sanitised)"
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
    )


@bp.route("/banks/<int:bank_id>/export.<fmt>")
def bank_export(bank_id, fmt):
    if fmt not in FORMATS:
        raise NotFound()
    bank = banks.get_bank(bank_id)
    slug = "".join(ch if ch.isalnum() else "-" for ch in bank.name).strip("-").lower()
    return _download(export_bank(bank, fmt), f"{slug}-v{bank.version}.{fmt}", fmt)


@bp.route("/items/<int:item_id>/status", methods=["POST"])
def item_status(item_id):
    item = banks.set_item_status(
        item_id, request.form.get("status", ""), actor(), request.form.get("reason", "").strip()
    )
    flash(f"{item.code}: status {item.status}", "info")
    return redirect(url_for("admin.bank_detail", bank_id=item.bank_id) + f"#item-{item.id}")


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
            flash("Ujian dibuat. / Exam created.", "info")
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
        flash(f"{exam.name}: {error.message} / {error.message_en}", "error")
    else:
        for sitting_id in db.session.execute(
            db.select(Sitting.id).where(Sitting.exam_id == exam.id, Sitting.status != "ended")
        ).scalars():
            feed.seat_changed(sitting_id)  # open boards re-render (or go dark) now
        state = "aktif / on" if settings["enabled"] else "mati / off"
        flash(f"{exam.name}: papan skor {state} / score board saved.", "info")
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
                _parse_when(request.form.get("scheduled_at")),
                [_int(p, 0) for p in request.form.getlist("proctors")],
                actor(),
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            problems, status = error.problems, 422
        else:
            flash("Sesi dijadwalkan. / Sitting scheduled.", "info")
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
        form=request.form,
        **{"problems": [], "errors": None, "n_problems": 0, **extra},
    )


@bp.route("/sittings/<int:sitting_id>")
def sitting_detail(sitting_id):
    return _sitting_template(sitting_id)


def _sitting_template(sitting_id, problems=(), failed=None):
    sitting = sittings.get_sitting(sitting_id)
    candidates = (
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
        candidates=candidates,
        proctors=proctors,
        problems=list(problems),
        failed=failed,
    )


@bp.route("/candidates/import", methods=["POST"])
def candidates_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Pilih berkas CSV peserta. / Choose a candidates CSV file.", "error")
        return _sittings_template(), 422
    try:
        created = sittings.import_candidates(upload.read(), upload.filename, actor())
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
        slips = sittings.reset_pins(sitting_id, actor(), request.form.get("reason"))
    except sittings.FormProblems as error:
        db.session.rollback()
        return _sitting_template(sitting_id, problems=error.problems, failed="pins"), 422
    return render_template(
        "admin/slips.html", slips=slips, title=f"PIN baru / New PINs: {len(slips)}"
    )


# --- scores -----------------------------------------------------------------


@bp.route("/scores")
def scores_page():
    return render_template("admin/scores.html", sittings=scores.sittings_for_export())


def _selected_attempts():
    sitting_id = _int(request.args.get("sitting"))
    date_from = _parse_when(request.args.get("from", ""))
    date_to = _parse_when(request.args.get("to", ""))
    if date_to is not None and len(request.args.get("to", "").strip()) == 10:
        date_to += timedelta(days=1)  # a date "to" includes that whole day
    if sitting_id is None and date_from is None and date_to is None:
        raise sittings.FormProblems([("sitting", "choose a sitting or a date range")])
    if sitting_id is not None:
        sittings.get_sitting(sitting_id)
    label = (
        f"sitting-{sitting_id}"
        if sitting_id
        else f"{request.args.get('from', '')}_{request.args.get('to', '')}".strip("_")
    )
    return scores.select_attempts(sitting_id, date_from, date_to), label


@bp.route("/scores/export.<fmt>")
def scores_export(fmt):
    if fmt not in ("csv", "xlsx"):
        raise NotFound()
    attempts, label = _selected_attempts()
    header, rows = scores.score_rows(attempts)
    data = scores.to_csv(header, rows) if fmt == "csv" else scores.to_xlsx(header, rows)
    return _download(data, f"scores-{label}.{fmt}", fmt)


@bp.route("/scores/responses.csv")
def responses_export():
    attempts, label = _selected_attempts()
    header, rows = scores.wide_responses(attempts)
    out = io.StringIO(newline="")
    import csv

    csv.writer(out, lineterminator="\n").writerows(
        [header, *([escape_cell(c) for c in row] for row in rows)]
    )
    return _download(out.getvalue().encode("utf-8"), f"responses-{label}.csv", "csv")


# --- audit and integrity ------------------------------------------------------


@bp.route("/audit")
def audit_page():
    events = (
        db.session.execute(db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(300))
        .scalars()
        .all()
    )
    return render_template("admin/audit.html", events=events)


@bp.route("/verify", methods=["POST"])
def verify():
    n_attempts, n_responses, problems = scores.verify_chains()
    return render_template(
        "admin/verify.html", n_attempts=n_attempts, n_responses=n_responses, problems=problems
    )


@bp.app_errorhandler(429)
def too_many_logins(error):
    """A login limit was hit: say so plainly, in both languages, with when to try again."""
    from ..errors import ExamError, wants_json

    db.session.rollback()
    limit = getattr(error, "limit", None)
    retry = error.retry_after if hasattr(error, "retry_after") else None
    problem = ExamError(
        "Terlalu banyak percobaan masuk. Tunggu beberapa menit lalu coba lagi, "
        "atau minta bantuan pengawas.",
        "Too many login attempts. Wait a few minutes and try again, or ask a proctor.",
        limit=str(limit.limit) if limit is not None else None,
        retry_after=retry,
    )
    problem.status, problem.code = 429, "too_many_attempts"
    if wants_json():
        return problem.to_dict(), 429
    return render_template("error.html", error=problem), 429


# --- calibration and item statistics ---------------------------------------------


@bp.route("/calibration", methods=["GET", "POST"])
def calibration_page():
    from . import calibration

    problems, status = [], 200
    if request.method == "POST":
        upload = request.files.get("file")
        data = upload.read() if upload is not None and upload.filename else None
        try:
            proposal = calibration.run_calibration(
                _int(request.form.get("bank_id"), 0),
                request.form.get("model", "2pl"),
                actor(),
                upload=data,
                filename=upload.filename if data else "responses.csv",
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            problems, status = error.problems, 422
        else:
            return redirect(url_for("admin.calibration_review", token=proposal["token"]))
    bank_versions = (
        db.session.execute(db.select(ItemBank).order_by(ItemBank.name, ItemBank.version.desc()))
        .scalars()
        .all()
    )
    pretest = dict(
        db.session.execute(
            db.select(Item.bank_id, db.func.count())
            .where(Item.status == "pretest")
            .group_by(Item.bank_id)
        ).all()
    )
    return render_template(
        "admin/calibration.html",
        banks=bank_versions,
        pretest=pretest,
        problems=problems,
        form=request.form,
    ), status


@bp.route("/calibration/<token>", methods=["GET", "POST"])
def calibration_review(token):
    from . import calibration

    proposal = calibration.load_proposal(token)
    problems, status = [], 200
    if request.method == "POST":
        try:
            n = calibration.accept(
                token,
                [_int(i, 0) for i in request.form.getlist("items")],
                actor(),
                request.form.get("reason", "").strip() or None,
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            problems, status = error.problems, 422
        else:
            flash(f"{n} soal diaktifkan dengan parameter baru. / {n} items activated.", "info")
            return redirect(url_for("admin.bank_detail", bank_id=proposal["bank_id"]))
    bank = banks.get_bank(proposal["bank_id"])
    return render_template(
        "admin/calibration_review.html", p=proposal, bank=bank, problems=problems
    ), status


@bp.route("/banks/<int:bank_id>/stats")
def bank_stats(bank_id):
    from . import calibration

    bank = banks.get_bank(bank_id)
    n_attempts, rows = calibration.item_statistics(bank)
    return render_template("admin/stats.html", bank=bank, n_attempts=n_attempts, rows=rows)


@bp.route("/banks/<int:bank_id>/information.svg")
def bank_information(bank_id):
    from . import calibration

    svg = calibration.information_svg(banks.get_bank(bank_id))
    return Response(svg, mimetype="image/svg+xml")


# --- staff accounts -------------------------------------------------------------


def _users_template(problems=(), status=200, **extra):
    from . import users

    return render_template(
        "admin/users.html",
        users=users.list_users(),
        roles=users.ROLES,
        assigned=users.assigned_sittings(),
        min_password=users.min_password_length(),
        problems=list(problems),
        form=request.form,
        **{"failed": None, **extra},
    ), status


@bp.route("/users", methods=["GET", "POST"])
def users_page():
    """The staff list; POST creates an account."""
    from . import users

    if request.method == "POST":
        form = request.form
        try:
            user = users.create_user(
                form.get("username", ""),
                form.get("name", ""),
                form.get("role", ""),
                form.get("password", ""),
                actor(),
                form.get("reason", "").strip() or None,
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            return _users_template(error.problems, 422, failed="create")
        flash(_("Akun %(username)s dibuat.", username=user.username), "info")
        return redirect(url_for("admin.users_page") + f"#user-{user.id}")
    return _users_template()


def _user_change(user_id, change, done):
    from . import users

    try:
        user = change(users)
    except sittings.FormProblems as error:
        db.session.rollback()
        return _users_template(error.problems, 422, failed=user_id)
    flash(done(user), "info")
    return redirect(url_for("admin.users_page") + f"#user-{user.id}")


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def user_role(user_id):
    role = request.form.get("role", "")
    return _user_change(
        user_id,
        lambda users: users.set_role(user_id, role, actor(), request.form.get("reason")),
        lambda u: _("Peran %(username)s: %(role)s.", username=u.username, role=u.role),
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id):
    return _user_change(
        user_id,
        lambda users: users.reset_password(
            user_id, request.form.get("password", ""), actor(), request.form.get("reason")
        ),
        lambda u: _("Kata sandi %(username)s diganti; sesi lamanya berakhir.", username=u.username),
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def user_active(user_id):
    active = request.form.get("active") == "1"
    return _user_change(
        user_id,
        lambda users: users.set_active(user_id, active, actor(), request.form.get("reason")),
        lambda u: (
            _("%(username)s diaktifkan kembali.", username=u.username)
            if u.active
            else _("%(username)s dinonaktifkan: tidak dapat masuk lagi.", username=u.username)
        ),
    )


@bp.route("/sittings/<int:sitting_id>/proctors", methods=["POST"])
def sitting_proctors(sitting_id):
    from . import users

    try:
        users.set_sitting_proctors(
            sitting_id,
            [_int(p, 0) for p in request.form.getlist("proctors")],
            actor(),
            request.form.get("reason"),
        )
    except sittings.FormProblems as error:
        db.session.rollback()
        return _sitting_template(sitting_id, problems=error.problems), 422
    flash(_("Pengawas sesi disimpan."), "info")
    return redirect(url_for("admin.sitting_detail", sitting_id=sitting_id))
