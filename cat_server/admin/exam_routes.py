"""Administrator pages of the exam builder: create, edit, import, export. Thin: exam_builder.py works."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..models import ItemBank
from ..sealed.release import package_of_bank
from . import bp, exam_builder, sittings
from .routes import _int, actor


def _banks():
    return (
        db.session.execute(db.select(ItemBank).order_by(ItemBank.name, ItemBank.version.desc()))
        .scalars()
        .all()
    )


@bp.route("/exams/build", methods=["GET", "POST"], defaults={"exam_id": None})
@bp.route("/exams/<int:exam_id>/build", methods=["GET", "POST"])
def exam_builder_page(exam_id):
    """The builder: one form for the whole exam, checked like an exam file before saving."""
    exam = exam_builder.get_exam(exam_id) if exam_id is not None else None
    problems, status = [], 200
    if request.method == "POST":
        form = request.form.to_dict()
        if "add_section" in form:  # one more empty section row, nothing saved
            form["n_sections"] = str(_int(form.get("n_sections"), 0) + 1)
        else:
            bank = db.session.get(ItemBank, _int(form.get("bank_id"), 0) or 0)
            doc = exam_builder.form_document(
                form, bank.name if bank else None, bank.version if bank else None
            )
            try:
                saved = exam_builder.save_exam_document(
                    doc, actor(), exam_id if form.get("save_as") != "new" else None
                )
            except sittings.FormProblems as error:
                db.session.rollback()
                problems, status = error.problems, 422
            else:
                flash(_("Ujian %(name)s disimpan.", name=saved.name), "info")
                return redirect(url_for("admin.exams_page") + f"#exam-{saved.id}")
    elif exam is not None:
        form = exam_builder.document_form(exam_builder.exam_document(exam))
        form["bank_id"] = str(exam.bank_id)
    else:
        form = {"n_sections": "3", "total_minutes": "100", "result": "sections"}
    n_sections = max(1, _int(form.get("n_sections"), 1) or 1)
    return render_template(
        "admin/exam_builder.html",
        exam=exam,
        form=form,
        n_sections=n_sections,
        banks=_banks(),
        problems=problems,
        # a sealed package's sections are never previewed (their items stay sealed)
        sealed=exam is not None and package_of_bank(exam.bank_id) is not None,
    ), status


@bp.route("/exams/import", methods=["POST"])
def exam_import():
    """A new exam from an uploaded exam file; every problem listed, nothing saved."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        problems = [("file", _("pilih berkas ujian (.json)"))]
    else:
        try:
            exam = exam_builder.import_exam_file(upload.read(), upload.filename, actor())
        except sittings.FormProblems as error:
            db.session.rollback()
            problems = error.problems
        else:
            flash(_("Ujian %(name)s diimpor.", name=exam.name), "info")
            return redirect(url_for("admin.exams_page") + f"#exam-{exam.id}")
    return render_template(
        "admin/exam_builder.html",
        exam=None,
        form={"n_sections": "1"},
        n_sections=1,
        banks=_banks(),
        problems=problems,
    ), 422


@bp.route("/exams/<int:exam_id>/export")
def exam_export(exam_id):
    """The exam file (JSON) to download."""
    text = exam_builder.export_exam_file(exam_id)
    return Response(
        text,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}.json"'},
    )
