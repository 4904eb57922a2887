"""Administrator page of sealed packages: upload one (verified before anything is stored), list them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..bodies import large_upload
from ..extensions import db
from ..models import PackageRelease
from ..sealed.package import PackageRefused
from . import bp
from .packages import import_package, package_summary, packages
from .routes import actor


@bp.route("/packages", methods=["GET", "POST"])
@large_upload
def packages_page():
    problem, status = None, 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problem, status = "Pilih berkas paket (.catpkg). / Choose a package file.", 422
        else:
            try:
                row = import_package(upload.read(), upload.filename, actor())
            except PackageRefused as refused:
                problem, status = str(refused), 422
            else:
                flash(f"Paket {row.package_id} diimpor. / Package imported.", "info")
                return redirect(url_for("admin.packages_page"))
    released = {
        r.package_id: r
        for r in db.session.execute(db.select(PackageRelease)).scalars()  # one line a package
    }
    return render_template(
        "admin/packages.html",
        packages=[package_summary(p) for p in packages()],
        released=released,
        problem=problem,
    ), status
