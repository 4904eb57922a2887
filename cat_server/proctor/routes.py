"""Proctor pages. Thin: services do the work."""

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import Forbidden
from ..models import utcnow
from ..results import forward
from ..sealed.fetch import fetch_release, issuer_url
from ..sealed.release import ReleaseRefused, release, release_status
from . import actions, bp, report, service

IDLE_S = 300  # no answer for 5 minutes while answering
DISCONNECTED_S = 30


@bp.route("/")
@login_required
def index():
    if not service.is_staff(current_user):
        raise Forbidden()
    sittings = service.visible_sittings(current_user)
    # what became of each ended sitting's signed results (pending / sent / acknowledged)
    deliveries = {d.sitting_id: d for _, d in forward.deliveries() if d is not None}
    return render_template("proctor/index.html", sittings=sittings, deliveries=deliveries)


@bp.route("/sittings/<int:sitting_id>")
@login_required
def sitting(sitting_id):
    sitting = service.get_watchable(sitting_id)
    config = {
        "sitting": sitting.id,
        # flag thresholds (CAT_PROCTOR_IDLE_S / CAT_PROCTOR_DISCONNECTED_S to change)
        "idle_s": int(current_app.config.get("PROCTOR_IDLE_S", IDLE_S)),
        "disconnected_s": int(current_app.config.get("PROCTOR_DISCONNECTED_S", DISCONNECTED_S)),
        "categories": list(actions.INCIDENT_CATEGORIES),
        "board": sitting.exam.board_enabled,
    }
    delivery = forward.delivery_of(sitting.id) if sitting.status == "ended" else None
    return render_template(
        "proctor/sitting.html",
        sitting=sitting,
        config=config,
        delivery=delivery,
        package=release_status(sitting),
        can_fetch=bool(issuer_url()),
    )


@bp.route("/sittings/<int:sitting_id>/release", methods=["POST"])
@login_required
def release_package(sitting_id):
    """The proctor types the issuer's release code; refused codes store nothing."""
    sitting = service.get_watchable(sitting_id)
    try:
        release(sitting.id, request.form.get("code", ""), actions.actor_of(current_user))
    except ReleaseRefused as refused:
        flash(refused.message_en if str(get_locale()) == "en" else refused.message, "error")
    else:
        flash(_("Paket dibuka untuk sesi ini; check-in dan mulai ujian kini bisa."), "info")
    return redirect(url_for("proctor.sitting", sitting_id=sitting.id))


@bp.route("/sittings/<int:sitting_id>/release/fetch", methods=["POST"])
@login_required
def fetch_package_release(sitting_id):
    """Fetch the release code from the issuer (CAT_ISSUER_URL); the same release as a typed code."""
    sitting = service.get_watchable(sitting_id)
    try:
        fetch_release(sitting.id, actions.actor_of(current_user))
    except ReleaseRefused as refused:
        flash(refused.message_en if str(get_locale()) == "en" else refused.message, "error")
    else:
        flash(_("Kunci diambil dari penerbit; paket dibuka untuk sesi ini."), "info")
    return redirect(url_for("proctor.sitting", sitting_id=sitting.id))


@bp.route("/sittings/<int:sitting_id>/report")
@login_required
def incident_report(sitting_id):
    sitting = service.get_watchable(sitting_id)
    return render_template(
        "proctor/report.html",
        sitting=sitting,
        rows=report.in_words(report.report_rows(sitting.id)),
        printed_at=utcnow(),
    )


@bp.route("/sittings/<int:sitting_id>/report.csv")
@login_required
def incident_report_csv(sitting_id):
    sitting = service.get_watchable(sitting_id)
    body = report.report_csv(report.report_rows(sitting.id))
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="incidents-sitting-{sitting.id}.csv"'
        },
    )
