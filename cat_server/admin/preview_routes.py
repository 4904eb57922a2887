"""Administrator pages that preview a whole section as the workstation shows it. Thin: previews.py picks."""

from __future__ import annotations

from flask import render_template, request, url_for

from ..errors import NotFound
from ..exam.catalog import public_item
from . import bp, previews
from .routes import _int


def _page(items, title, back, here, info):
    """The ``n``-th item (1-based, ``?n=``) with the strip of every item of the section."""
    if not items:
        return render_template(
            "admin/section_preview.html", title=title, back=back, info=info, items=[], n=0
        )
    n = _int(request.args.get("n"), 1) or 1
    if not 1 <= n <= len(items):
        raise NotFound()
    # plain rows first: reading an item's public form caches (and detaches) it
    rows = [dict(id=i.id, code=i.code, tag=i.section, status=i.status) for i in items]
    return render_template(
        "admin/section_preview.html",
        title=title,
        back=back,
        info=info,
        items=rows,
        n=n,
        current=rows[n - 1],
        public=public_item(rows[n - 1]["id"]),
        link=lambda k: here(n=k),
    )


@bp.route("/exams/<int:exam_id>/sections/<int:position>/preview")
def section_preview(exam_id, position):
    """Every item an exam section may show a candidate, one at a time, as the workstation shows it."""
    exam, section = previews.exam_section(exam_id, position)
    forms = previews.section_forms(section)
    form = _int(request.args.get("form"), 1) or 1
    items = previews.section_items(exam, section, form)
    info = dict(
        exam=exam.name,
        section=section.name,
        code=section.code,
        mode=section.mode,
        n_items=section.n_items,
        forms=[
            url_for("admin.section_preview", exam_id=exam_id, position=position, form=k)
            for k in range(1, len(forms) + 1)
        ],
        form=form,
    )

    def here(**args):
        extra = {"form": form} if forms else {}
        return url_for("admin.section_preview", exam_id=exam_id, position=position, **extra, **args)

    back = url_for("admin.exam_builder_page", exam_id=exam_id)
    return _page(items, f"{exam.name} · {section.code}", back, here, info)


@bp.route("/banks/<int:bank_id>/preview")
def bank_preview(bank_id):
    """A bank's items of one tag (``?section=``; none: all), as the workstation shows them."""
    tag = request.args.get("section") or None
    bank, items = previews.bank_tag(bank_id, tag)
    info = dict(bank=f"{bank.name} v{bank.version}", code=tag)

    def here(**args):
        return url_for("admin.bank_preview", bank_id=bank_id, section=tag, **args)

    back = url_for("admin.bank_detail", bank_id=bank_id, section=tag)
    return _page(items, f"{bank.name} · {tag or '*'}", back, here, info)
