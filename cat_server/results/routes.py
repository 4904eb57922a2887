"""Result bundles on the web: the admin page with its export button, the national endpoint."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import Response as HttpResponse
from flask_login import current_user

from ..errors import Forbidden
from ..extensions import csrf, db, login_manager
from . import bundle, forward, national

bp = Blueprint("results", __name__)
api_bp = Blueprint("results_api", __name__)
csrf.exempt(api_bp)  # no cookie is credentials here: the bundle's own signature is


@bp.before_request
def require_admin():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not getattr(current_user, "is_admin", False):
        raise Forbidden()


@bp.get("/")
def results_page():
    """Ended sittings and their bundles: pending, sent or acknowledged (times in WIB)."""
    return render_template(
        "admin/results.html",
        deliveries=forward.deliveries(),
        national_url=current_app.config.get("NATIONAL_URL"),
        centre=bundle.centre_id(),
    )


@bp.post("/<int:sitting_id>/export")
def export(sitting_id):
    """The admin's export button: the sitting's signed bundle as a download (for a USB stick)."""
    try:
        delivery = forward.export(sitting_id, f"user:{current_user.id}")
    except bundle.BundleProblem as problem:
        db.session.rollback()
        flash(f"Bundel tidak dibuat / No bundle: {problem}.", "error")
        return redirect(url_for(".results_page"))
    return HttpResponse(
        delivery.bundle,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{forward.file_name(delivery)}"'},
    )


@api_bp.post("/api/v1/results")
def receive():
    """National office: take a centre's bundle; the acknowledgement names its SHA-256."""
    request.max_content_length = current_app.config["RESULTS_MAX_BUNDLE"]
    data = request.get_data(cache=False)
    try:
        outcome = national.import_bundle(data, "the bundle", via="wan")
    except national.Refused as refused:
        db.session.rollback()
        return jsonify(ok=False, message_en=str(refused)), refused.status
    return jsonify(outcome.to_dict())
