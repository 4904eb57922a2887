"""``POST /api/v1/exams`` and ``GET /api/v1/exams/ID`` over real HTTP with a real token:
the exam file of ``cat-server exam import/export``, the same checks and words, all or nothing."""

from __future__ import annotations

import json

import pytest
import requests

from cat_server.api.tokens import create_token
from cat_server.demo import DEMO_BANK
from cat_server.extensions import db
from cat_server.itembank.service import import_bank
from cat_server.models import AuditEvent, Exam, ExamSection
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_exam_files import BANK, skd_document

pytestmark = pytest.mark.slow


@pytest.fixture
def server(app, db_url, tmp_path):
    """A gunicorn server on the test's database, holding the demo bank and an admin's token."""
    with app.app_context():
        import_bank(DEMO_BANK, BANK, actor="test")
        make_user("admin", role="admin")
        secret = create_token("admin", "SIMPEG sync", actor="test")[1]
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.token = secret
    yield live
    live.stop()


def bad_document() -> dict:
    doc = skd_document()
    doc["time"]["total_minutes"] = 0
    doc["sections"][0]["selection"]["n"] = 500
    doc["sections"][0]["time_limit_minutes"] = "ten"
    doc["sections"].append(
        {
            "code": "TIU",
            "name": "TIU",
            "navigation": "linear",
            "selection": {"type": "per_tag", "counts": {"TIU": 5, "XYZ": 2}},
        }
    )
    return doc


def n_exams(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Exam))


def test_an_exam_file_posted_is_the_exam_read_back(app, runner, server, tmp_path):
    api = f"{server.url}/api/v1/exams"
    auth = {"Authorization": f"Bearer {server.token}"}
    assert requests.post(api, json=skd_document(), timeout=30).status_code == 401

    made = requests.post(api, data=json.dumps(skd_document()), headers=auth, timeout=30)
    assert made.status_code == 201, made.text
    exam = made.json()["exam"]
    assert exam["name"] == "SKD" and exam["sections"][0]["n_items"] == 30
    assert made.headers["Location"].endswith(f"/api/v1/exams/{exam['id']}")

    read = requests.get(f"{api}/{exam['id']}", headers=auth, timeout=30)
    assert read.status_code == 200 and read.headers["Content-Type"] == "application/json"
    path = tmp_path / "cli.json"
    assert runner.invoke(args=["exam", "export", str(exam["id"]), str(path)]).exit_code == 0
    assert read.text == path.read_text(encoding="utf-8")  # the file the CLI writes

    # what GET gives, POST takes: a second exam, the same file but for nothing
    again = requests.post(api, data=read.content, headers=auth, timeout=30)
    assert again.status_code == 201, again.text
    second = requests.get(f"{api}/{again.json()['exam']['id']}", headers=auth, timeout=30)
    assert second.text == read.text

    # as a multipart upload too
    sent = {"file": ("skd.json", json.dumps(skd_document()), "application/json")}
    assert requests.post(api, files=sent, headers=auth, timeout=30).status_code == 201

    with app.app_context():
        made_by = db.session.execute(
            db.select(AuditEvent.actor).where(AuditEvent.action == "exam_created")
        ).scalars()
        assert list(made_by) == ["user:1"] * 3  # the token's user, as on the pages
        assert db.session.get(Exam, exam["id"]).sections[0].shuffle is True


def test_a_bad_exam_file_gets_the_cli_s_words_and_nothing_is_saved(app, runner, server, tmp_path):
    api = f"{server.url}/api/v1/exams"
    auth = {"Authorization": f"Bearer {server.token}"}
    before = n_exams(app)
    with app.app_context():
        n_sections = db.session.scalar(db.select(db.func.count()).select_from(ExamSection))

    refused = requests.post(
        f"{api}?filename=skd.json", data=json.dumps(bad_document()), headers=auth, timeout=30
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["ok"] is False and body["error"] == "invalid_exam"
    api_lines = {f"{p['file']}: {p['field'] or '-'}: {p['message']}" for p in body["problems"]}

    path = tmp_path / "skd.json"
    path.write_text(json.dumps(bad_document()), encoding="utf-8")
    cli = runner.invoke(args=["exam", "import", str(path)])
    assert cli.exit_code == 2
    cli_lines = set(cli.output.splitlines()) - {"Nothing was imported."}
    assert api_lines == cli_lines  # file, field and what was expected: word for word
    assert "skd.json: sections[2].selection.counts.XYZ: tag ini tidak ada di pool bagian (TIU)" in (
        api_lines
    )

    english = requests.post(
        f"{api}?filename=skd.json&lang=en",
        data=json.dumps(bad_document()),
        headers=auth,
        timeout=30,
    ).json()
    assert "sections[1].selection.n" in {p["field"] for p in english["problems"]}
    assert any("500 items asked" in p["message"] for p in english["problems"]), english

    broken = requests.post(api, data=b'{"format": "cat-server-exam",', headers=auth, timeout=30)
    assert broken.status_code == 422
    assert broken.json()["problems"][0]["field"] == "file"
    assert "exam.json bukan JSON yang sah" in broken.json()["problems"][0]["message"]
    empty = requests.post(api, data=b"", headers=auth, timeout=30)
    assert empty.status_code == 422 and empty.json()["problems"][0]["field"] == "file"
    missing = requests.get(f"{api}/424242", headers=auth, timeout=30)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    assert n_exams(app) == before
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ExamSection)) == n_sections
        assert not db.session.scalar(
            db.select(db.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "exam_created")
        )
