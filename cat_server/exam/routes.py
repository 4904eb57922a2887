"""Candidate pages at the workstation. Thin: services do the work."""

from flask import redirect, render_template, request, send_file, session, url_for
from flask_login import current_user

from ..errors import ExamError, wants_json
from ..extensions import db
from ..lockout import candidate_named, login_limits
from ..models import Attempt
from . import attempts, bp, sessions, views

# a cookie whose session ended (logout, PIN reset, seat move, proctor, idle) opens nothing
bp.before_request(sessions.check_cookie)


@bp.route("/exam/<int:sitting_id>/", methods=["GET", "POST"])
@login_limits(candidate_named)
def login(sitting_id):
    sitting = attempts.get_sitting(sitting_id)
    if request.method == "POST":
        try:
            attempt = attempts.login_candidate(
                sitting.id, request.form.get("registration_no", ""), request.form.get("pin", "")
            )
        except ExamError as error:
            db.session.rollback()
            if wants_json():  # a kiosk client: the same refusal, machine-readable
                return error.to_dict(), error.status
            return render_template(
                "exam/login.html",
                sitting=sitting,
                error=error,
                registration_no=request.form.get("registration_no", ""),
            ), error.status
        session.clear()
        session["attempt_id"] = attempt.id
        session["sitting_id"] = sitting.id
        session["token"] = attempt.session_token
        return redirect(url_for("exam.take", sitting_id=sitting.id))
    if session.get("sitting_id") == sitting.id and session.get("attempt_id"):
        return redirect(url_for("exam.take", sitting_id=sitting.id))
    return render_template("exam/login.html", sitting=sitting, error=None, registration_no="")


@bp.route("/exam/<int:sitting_id>/take")
def take(sitting_id):
    sitting = attempts.get_sitting(sitting_id)
    attempt = db.session.get(Attempt, session.get("attempt_id") or 0)
    if attempt is None or attempt.sitting_id != sitting.id:
        return redirect(url_for("exam.login", sitting_id=sitting.id))
    return render_template(
        "exam/take.html", sitting=sitting, attempt=attempt, candidate=attempt.candidate
    )


@bp.route("/exam/media/<int:item_id>")
def item_media(item_id):
    """An item's image or audio: a candidate only of an item presented to their running attempt."""
    staff = current_user if current_user.is_authenticated else None
    path, mimetype = views.item_media(item_id, session.get("attempt_id"), staff=staff)
    db.session.rollback()
    return _media_response(path, mimetype)


def _media_response(path, mimetype):
    # Never kept on the workstation: a shared seat's browser cache must not hold
    # the items of an earlier sitting for the next candidate to find (no-store);
    # a revisit within the attempt fetches the file again (ETag still answers 304).
    response = send_file(path, mimetype=mimetype, conditional=True, max_age=None)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # send_file names the file (Content-Disposition); its name can say what it shows
    response.headers.pop("Content-Disposition", None)
    return response


@bp.route("/exam/media/<int:item_id>/<int:n>")
def inline_image(item_id, n):
    """The n-th image inside an item's HTML (stem, then options): as item_media, by place."""
    staff = current_user if current_user.is_authenticated else None
    path, mimetype = views.inline_image(item_id, n, session.get("attempt_id"), staff=staff)
    db.session.rollback()
    return _media_response(path, mimetype)


@bp.route("/exam/<int:sitting_id>/logout", methods=["POST"])
def logout(sitting_id):
    """Log out: this attempt's session ends everywhere (every copy of the cookie, every socket)."""
    attempt_id = session.get("attempt_id")  # still set only if its session is live
    if attempt_id is not None:
        sessions.end(attempt_id, "logout", token=session.get("token"))
    session.clear()
    return redirect(url_for("exam.login", sitting_id=sitting_id))


@bp.route("/healthz")
def healthz():
    return {"ok": True}
