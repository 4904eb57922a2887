"""The builder on /admin/exams: an exam made from the form alone, problems listed at the top
in the page's language, the exam file imported and exported from the page."""

import io
import json

from cat_server.admin.exam_builder import export_exam_file
from cat_server.extensions import db
from cat_server.models import Exam, Sitting
from tests.conftest import login_staff, make_user
from tests.test_exam_files import demo_exams, skd_document

ADMIN = ("admin", "admin-pass-1")


def admin_client(app):
    with app.app_context():
        make_user(*ADMIN[:1], role="admin", password=ADMIN[1])
        demo_exams()
        bank_id = db.session.execute(db.select(Exam.bank_id)).scalars().first()
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    return client, bank_id


def csrf(client, url="/admin/exams/build"):
    page = client.get(url).get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


SKD_FORM = {
    "name": "SKD dari halaman",
    "total_minutes": "100",
    "late_login": "full",
    "result": "sections",
    "n_sections": "3",
    "s1-code": "TWK",
    "s1-name": "Tes Wawasan Kebangsaan",
    "s1-navigation": "navigable",
    "s1-selection": "pool",
    "s1-n": "30",
    "s1-points_correct": "5",
    "s1-pass_mark": "65",
    "s1-shuffle_items": "1",
    "s2-code": "TIU",
    "s2-name": "Tes Intelegensia Umum",
    "s2-navigation": "navigable",
    "s2-selection": "pool",
    "s2-n": "35",
    "s2-points_correct": "5",
    "s2-pass_mark": "80",
    "s2-shuffle_items": "1",
    "s3-code": "TKP",
    "s3-name": "Tes Karakteristik Pribadi",
    "s3-navigation": "navigable",
    "s3-selection": "pool",
    "s3-n": "45",
    "s3-pass_mark": "166",
    "s3-shuffle_items": "1",
}


def test_an_admin_builds_the_skd_exam_from_the_form_alone(app):
    client, bank_id = admin_client(app)
    form = SKD_FORM | {"bank_id": str(bank_id), "csrf_token": csrf(client)}
    response = client.post("/admin/exams/build", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    with app.app_context():
        exam = db.session.execute(
            db.select(Exam).where(Exam.name == "SKD dari halaman")
        ).scalar_one()
        doc = json.loads(export_exam_file(exam.id))
    assert doc["time"]["total_minutes"] == 100
    assert [
        (s["code"], s["selection"]["n"], s["scoring"]["pass_mark"]) for s in doc["sections"]
    ] == [
        ("TWK", 30, 65),
        ("TIU", 35, 80),
        ("TKP", 45, 166),
    ]
    assert all(s["navigation"] == "navigable" and s["shuffle_items"] for s in doc["sections"])
    # editing shows what was saved
    page = client.get(f"/admin/exams/{exam.id}/build").get_data(as_text=True)
    assert 'value="SKD dari halaman"' in page and 'value="166"' in page


def test_every_problem_is_listed_at_the_top_in_the_pages_language(app):
    client, bank_id = admin_client(app)
    bad = SKD_FORM | {
        "bank_id": str(bank_id),
        "total_minutes": "",
        "s1-n": "500",
        "s2-pass_mark": "lots",
        "s3-navigation": "adaptive",
        "s3-exposure": "cap",
        "s3-max_items": "40",
        "s3-min_items": "60",
    }
    with app.app_context():
        n_exams = db.session.scalar(db.select(db.func.count()).select_from(Exam))
    for lang, words in (
        ("id", ["Belum disimpan", "wajib diisi", "500 soal diminta", "belum didukung"]),
        ("en", ["Not saved", "required", "500 items asked", "not supported"]),
    ):
        client.get(f"/admin/exams?lang={lang}")  # the switch sets the cookie
        response = client.post("/admin/exams/build", data=bad | {"csrf_token": csrf(client)})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        top = page.split('data-testid="builder-problems"')[1].split("</div>")[0]
        for where in (
            "time.total_minutes",
            "sections[1].selection.n",
            "sections[2].scoring.pass_mark",
            "sections[3].adaptive.exposure.method",
            "sections[3].adaptive.stopping.min_items",
        ):
            assert where in top, (lang, where)
        for word in words:
            assert word in top, (lang, word)
        assert 'value="500"' in page  # the form keeps what was typed
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Exam)) == n_exams


def test_the_exam_file_is_imported_and_exported_from_the_page(app):
    client, _bank_id = admin_client(app)
    text = json.dumps(skd_document())
    response = client.post(
        "/admin/exams/import",
        data={"csrf_token": csrf(client), "file": (io.BytesIO(text.encode()), "skd.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        exam = db.session.execute(db.select(Exam).where(Exam.name == "SKD")).scalar_one()
        expected = export_exam_file(exam.id)
    download = client.get(f"/admin/exams/{exam.id}/export")
    assert download.headers["Content-Disposition"].endswith(f'exam-{exam.id}.json"')
    assert download.get_data(as_text=True) == expected
    # a broken file: named, nothing saved
    response = client.post(
        "/admin/exams/import",
        data={"csrf_token": csrf(client), "file": (io.BytesIO(b"{not json"), "rusak.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "rusak.json bukan JSON yang sah" in response.get_data(as_text=True)


def test_an_exam_a_sitting_uses_is_not_changed_in_place(app):
    client, bank_id = admin_client(app)
    with app.app_context():
        exam_id = db.session.execute(db.select(Exam.id)).scalars().first()
        db.session.add(Sitting(exam_id=exam_id, name="Sesi", room="R", status="open"))
        db.session.commit()
        before = export_exam_file(exam_id)
    url = f"/admin/exams/{exam_id}/build"
    form = SKD_FORM | {"bank_id": str(bank_id), "csrf_token": csrf(client, url)}
    response = client.post(url, data=form)
    assert response.status_code == 422
    assert "simpan sebagai ujian baru" in response.get_data(as_text=True)
    response = client.post(url, data=form | {"save_as": "new"})
    assert response.status_code == 302
    with app.app_context():
        assert export_exam_file(exam_id) == before
