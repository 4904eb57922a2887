"""Candidate pages at the workstation. Thin: services do the work."""

from flask import redirect, render_template, request, session, url_for

from ..errors import ExamError
from ..extensions import db, login_limits
from ..models import Attempt
from . import bp, service


@bp.route("/exam/<int:sitting_id>/", methods=["GET", "POST"])
@login_limits("sitting_id", "registration_no")
def login(sitting_id):
    sitting = service.get_sitting(sitting_id)
    if request.method == "POST":
        try:
            attempt = service.login_candidate(
                sitting.id, request.form.get("registration_no", ""), request.form.get("pin", "")
            )
        except ExamError as error:
            db.session.rollback()
            return render_template("exam/login.html", sitting=sitting, error=error,
                                   registration_no=request.form.get("registration_no", "")), error.status
        session.clear()
        session["attempt_id"] = attempt.id
        session["sitting_id"] = sitting.id
        return redirect(url_for("exam.take", sitting_id=sitting.id))
    if session.get("sitting_id") == sitting.id and session.get("attempt_id"):
        return redirect(url_for("exam.take", sitting_id=sitting.id))
    return render_template("exam/login.html", sitting=sitting, error=None, registration_no="")


@bp.route("/exam/<int:sitting_id>/take")
def take(sitting_id):
    sitting = service.get_sitting(sitting_id)
    attempt = db.session.get(Attempt, session.get("attempt_id") or 0)
    if attempt is None or attempt.sitting_id != sitting.id:
        return redirect(url_for("exam.login", sitting_id=sitting.id))
    return render_template("exam/take.html", sitting=sitting, attempt=attempt,
                           candidate=attempt.candidate)


@bp.route("/exam/<int:sitting_id>/logout", methods=["POST"])
def logout(sitting_id):
    session.clear()
    return redirect(url_for("exam.login", sitting_id=sitting_id))


@bp.route("/healthz")
def healthz():
    return {"ok": True}
