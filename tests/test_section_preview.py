"""A whole section previewed as the workstation shows it (#18 item 2): which items, in which order."""

import re

from cat_server.exam.catalog import public_item
from cat_server.extensions import db
from cat_server.models import ExamSection, Item
from tests.test_admin_language import admin  # noqa: F401  (the fixture: demo data, an admin)

STRIP = re.compile(r'class="strip-item[^"]*" href="[^"]*" title="([^"]+)"')


def codes(app, **where):
    with app.app_context():
        query = db.select(Item.code).order_by(Item.position)
        for name, values in where.items():
            query = query.where(getattr(Item, name).in_(values))
        return list(db.session.execute(query).scalars())


def test_a_fixed_section_shows_its_pool_in_bank_order_one_item_a_page_like_the_workstation(
    app,
    admin,  # noqa: F811
):
    twk = codes(app, section=["TWK"], status=["active"])
    page = admin.get("/admin/exams/1/sections/1/preview")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert STRIP.findall(text) == twk  # the strip: every item a candidate may meet, bank order
    assert 'class="strip-item current"' in text and "Soal 1 dari 34" in text
    third = admin.get("/admin/exams/1/sections/1/preview?n=3").get_data(as_text=True)
    with app.app_context():
        item_id = db.session.execute(db.select(Item.id).where(Item.code == twk[2])).scalar_one()
        stem = public_item(item_id)["stem"]
    assert stem in third and f"<code>{twk[2]}</code>" in third  # the workstation's sanitised HTML
    assert 'class="option"' in third and 'data-testid="option-A"' in third
    assert admin.get("/admin/exams/1/sections/1/preview?n=35").status_code == 404
    assert admin.get("/admin/exams/1/sections/4/preview").status_code == 404
    english = admin.get("/admin/exams/1/sections/1/preview?lang=en").get_data(as_text=True)
    assert "Preview section" in english and "Item 1 of 34" in english


def test_an_adaptive_section_shows_its_pool_and_the_pretest_items_only_when_it_seeds_them(
    app,
    admin,  # noqa: F811
):
    active = codes(app, section=["TWK", "TIU"], status=["active"])
    assert STRIP.findall(admin.get("/admin/exams/2/sections/1/preview").get_data(as_text=True)) == (
        active
    )
    with app.app_context():
        section = db.session.execute(
            db.select(ExamSection).where(ExamSection.exam_id == 2)
        ).scalar()
        section.engine = {**(section.engine or {}), "pretest": 1}
        db.session.commit()
    seeded = STRIP.findall(admin.get("/admin/exams/2/sections/1/preview").get_data(as_text=True))
    assert seeded == codes(app, section=["TWK", "TIU"], status=["active", "pretest"])
    assert len(seeded) == len(active) + 2


def test_a_section_of_parallel_forms_shows_one_form_at_a_time_in_its_order(
    app,
    admin,  # noqa: F811
):
    with app.app_context():
        ids = db.session.execute(
            db.select(Item.id).where(Item.section == "TWK").order_by(Item.position)
        ).scalars()
        ids = list(ids)
        forms = [ids[5:0:-1], ids[10:15]]
        section = db.session.execute(
            db.select(ExamSection).where(ExamSection.exam_id == 1)
        ).scalar()
        section.selection, section.n_items = {"type": "forms", "forms": forms}, 5
        db.session.commit()
        want = [[db.session.get(Item, i).code for i in form] for form in forms]
    first = admin.get("/admin/exams/1/sections/1/preview").get_data(as_text=True)
    assert STRIP.findall(first) == want[0] and "paket soal 1 dari 2" in first
    second = admin.get("/admin/exams/1/sections/1/preview?form=2&n=2").get_data(as_text=True)
    assert STRIP.findall(second) == want[1] and f"<code>{want[1][1]}</code>" in second
    assert "form=2" in second.split('data-testid="next-item"')[0].rsplit("<a", 1)[1]
    assert admin.get("/admin/exams/1/sections/1/preview?form=3").status_code == 404


def test_a_banks_tag_is_previewed_with_every_item_of_any_status_and_linked_from_the_pages(
    app,
    admin,  # noqa: F811
):
    tiu = admin.get("/admin/banks/1/preview?section=TIU").get_data(as_text=True)
    assert STRIP.findall(tiu) == codes(app, section=["TIU"])  # the pretest one too
    assert len(STRIP.findall(admin.get("/admin/banks/1/preview").get_data(as_text=True))) == len(
        codes(app)
    )
    assert admin.get("/admin/banks/1/preview?section=NOPE").status_code == 404
    assert "/admin/banks/1/preview?section=TIU" in admin.get("/admin/banks/1?section=TIU").get_data(
        as_text=True
    )
    exams = admin.get("/admin/exams").get_data(as_text=True)
    assert (
        "/admin/exams/1/sections/3/preview" in exams
        and "/admin/exams/2/sections/1/preview" in exams
    )
    builder = admin.get("/admin/exams/1/build").get_data(as_text=True)
    assert 'data-testid="preview-section-3"' in builder
