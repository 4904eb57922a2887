"""The JSON API (docs/api.md): bearer tokens of active administrators, the pages' services."""

from __future__ import annotations

from pathlib import Path

import pytest

from cat_server.api.tokens import create_token, revoke_token
from cat_server.extensions import db
from cat_server.models import AuditEvent, Candidate
from tests.conftest import make_sitting, make_user

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture
def token(app):
    with app.app_context():
        make_user("admin", role="admin")
        return create_token("admin", "SIMPEG sync", actor="test")[1]


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_without_a_valid_token_nothing_is_answered(app, client, token):
    with app.app_context():
        make_sitting(n_candidates=2)
    assert client.get("/api/v1/sittings").status_code == 401
    wrong = client.get("/api/v1/sittings", headers=bearer("cat_" + "x" * 43))
    assert wrong.status_code == 401 and wrong.json["error"] == "unauthorized"
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    ok = client.get("/api/v1/sittings", headers=bearer(token))
    assert ok.status_code == 200 and ok.json["sittings"][0]["candidates"] == 2
    assert ok.headers["Cache-Control"] == "no-store"


def test_a_staff_cookie_is_not_an_api_credential(app, client, token):
    """An admin's browser session opens no API door: no cross-site form can use it."""
    from tests.conftest import login_staff

    with app.app_context():
        make_user("admin2", role="admin")
    assert login_staff(client, "admin2").status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/banks").status_code == 401


def test_a_revoked_token_or_a_demoted_user_stops_at_once(app, client, token):
    assert client.get("/api/v1/banks", headers=bearer(token)).status_code == 200
    with app.app_context():
        from cat_server.models import User

        user = db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()
        user.role = "proctor"
        db.session.commit()
    assert client.get("/api/v1/banks", headers=bearer(token)).status_code == 403
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.username == "admin")).scalar_one()
        user.role = "admin"
        db.session.commit()
        revoke_token(1, actor="test")
    assert client.get("/api/v1/banks", headers=bearer(token)).status_code == 401


def test_a_proctor_gets_no_token(app):
    from cat_server.api.tokens import TokenProblem

    with app.app_context():
        make_user("pengawas", role="proctor")
        with pytest.raises(TokenProblem, match="not an active administrator"):
            create_token("pengawas", "x", actor="test")


def test_bank_import_as_the_body_and_problems_by_row(app, client, token):
    # the example's one image would need a .zip around it (docs/api.md shows that too)
    data = (
        (EXAMPLES / "item_bank_example.csv").read_bytes().replace(b"media/tiu102-grafik.png", b"")
    )
    made = client.post(
        "/api/v1/banks?name=Bank%20API&filename=bank.csv",
        data=data,
        headers={**bearer(token), "Content-Type": "text/csv"},
    )
    assert made.status_code == 201, made.json
    assert made.json["bank"]["name"] == "Bank API" and sum(made.json["bank"]["items"].values()) > 0
    broken = data.replace(b"TWK101,TWK,1pl,1,-1.2", b"TWK101,TWK,1pl,1,abc", 1)
    refused = client.post(
        "/api/v1/banks?name=Bank%20API&filename=bank.csv", data=broken, headers=bearer(token)
    )
    assert refused.status_code == 422 and refused.json["error"] == "invalid_file"
    problem = refused.json["problems"][0]
    assert problem["file"] == "bank.csv" and problem["row"] == 2 and problem["column"] == "b"
    assert problem["message"] == "diharapkan angka, ditemukan 'abc'"  # the admin pages' words
    in_english = client.post(
        "/api/v1/banks?name=Bank%20API&filename=bank.csv&lang=en",
        data=broken,
        headers=bearer(token),
    )
    assert in_english.json["problems"][0] == {**problem, "message": "expected a number, got 'abc'"}
    listed = client.get("/api/v1/banks", headers=bearer(token)).json["banks"]
    assert [b["version"] for b in listed] == [1]  # nothing half-written


def test_sitting_candidates_and_scores(app, client, token):
    with app.app_context():
        make_sitting(n_candidates=1, name="Sesi Lama")
    exams = client.get("/api/v1/exams", headers=bearer(token)).json["exams"]
    created = client.post(
        "/api/v1/sittings",
        json={
            "exam_id": exams[0]["id"],
            "name": "Sesi Demo 1",
            "room": "Lab 1",
            "scheduled_at": "2026-12-07T08:00",
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.json
    sitting = created.json["sitting"]
    assert sitting["scheduled_at"] == "2026-12-07T08:00:00+07:00"  # typed in WIB, said in WIB
    bad = client.post("/api/v1/sittings", json={"exam_id": 999, "name": ""}, headers=bearer(token))
    assert bad.status_code == 422 and {p["field"] for p in bad.json["problems"]} >= {"exam_id"}
    csv = (EXAMPLES / "candidates_example.csv").read_bytes()
    imported = client.post(
        "/api/v1/candidates?filename=candidates.csv", data=csv, headers=bearer(token)
    )
    assert imported.status_code == 201, imported.json
    rows = imported.json["candidates"]
    assert len(rows) == csv.count(b"\n") - 1 and all(len(r["pin"]) >= 6 for r in rows)
    with app.app_context():
        assert db.session.query(Candidate).filter_by(sitting_id=sitting["id"]).count() == len(rows)
        actors = {a for (a,) in db.session.query(AuditEvent.actor).distinct()}
        assert "user:1" in actors  # the token's user, as on the pages
    scores = client.get(f"/api/v1/scores?sitting={sitting['id']}", headers=bearer(token))
    assert scores.status_code == 200 and scores.json["rows"] == []
    assert "total" in scores.json["columns"]
    missing = client.get("/api/v1/scores?sitting=99999999999999", headers=bearer(token))
    assert missing.status_code == 422
    assert client.get("/api/v1/exams/424242", headers=bearer(token)).status_code == 404


def test_the_cli_makes_lists_and_revokes_tokens(app, runner):
    with app.app_context():
        make_user("admin", role="admin")
    made = runner.invoke(args=["api-token", "create", "--user", "ADMIN", "--name", "SIMPEG"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("cat_")
    client = app.test_client()
    assert client.get("/api/v1/banks", headers=bearer(secret)).status_code == 200
    listed = runner.invoke(args=["api-token", "list"])
    assert "SIMPEG" in listed.output and "WIB" in listed.output and secret not in listed.output
    assert runner.invoke(args=["api-token", "revoke", "1"]).exit_code == 0
    assert client.get("/api/v1/banks", headers=bearer(secret)).status_code == 401
    refused = runner.invoke(args=["api-token", "create", "--user", "nobody", "--name", "x"])
    assert refused.exit_code == 2 and "no user" in refused.output


def test_a_body_sent_as_curl_sends_it_is_read(app, client, token):
    """``curl --data-binary @bank.csv`` labels the body form-urlencoded; it is still the file."""
    data = (
        (EXAMPLES / "item_bank_example.csv").read_bytes().replace(b"media/tiu102-grafik.png", b"")
    )
    made = client.post(
        "/api/v1/banks?name=Bank%20Curl&filename=bank.csv",
        data=data,
        headers={**bearer(token), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert made.status_code == 201, made.json
