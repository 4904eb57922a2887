"""Administrator pages for calibration and item statistics. Thin: calibration.py does the work."""

from __future__ import annotations

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from ..bodies import large_upload
from ..extensions import db
from ..models import (
    Item,
    ItemBank,
)
from ..sealed.release import Sealed, package_of_bank
from . import banks, bp, sittings
from .routes import _int, actor

# --- calibration and item statistics ---------------------------------------------


@bp.route("/calibration", methods=["GET", "POST"])
@large_upload
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
                filename=upload.filename if data is not None else "responses.csv",
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
            flash(_("%(n)s soal diaktifkan dengan parameter baru.", n=n), "info")
            return redirect(url_for("admin.bank_detail", bank_id=proposal["bank_id"]))
    bank = banks.get_bank(proposal["bank_id"])
    return render_template(
        "admin/calibration_review.html", p=proposal, bank=bank, problems=problems
    ), status


@bp.route("/banks/<int:bank_id>/stats")
def bank_stats(bank_id):
    from . import calibration

    bank = _open_bank(bank_id)
    n_attempts, rows = calibration.item_statistics(bank)
    return render_template("admin/stats.html", bank=bank, n_attempts=n_attempts, rows=rows)


def _open_bank(bank_id: int):
    """The bank, unless a sealed package's: its statistics would need the sealed parameters."""
    bank = banks.get_bank(bank_id)
    if package_of_bank(bank.id) is not None:
        raise Sealed()
    return bank


@bp.route("/banks/<int:bank_id>/information.svg")
def bank_information(bank_id):
    from . import calibration

    svg = calibration.information_svg(_open_bank(bank_id))
    return Response(svg, mimetype="image/svg+xml")
