"""The centre's zone (CAT_TIMEZONE, WIB unless set): shown with its name, typed in it, exported with its offset."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime

import pytest
from flask import render_template_string

from cat_server import create_app
from cat_server.extensions import db
from cat_server.models import Attempt, AuditEvent, Candidate, Exam, Sitting
from tests.conftest import login_staff, make_config, make_sitting, make_user

pytestmark = pytest.mark.usefixtures("quick_hashes")


def zone_app(tmp_path, zone=None):
    extra = {} if zone is None else {"TIMEZONE": zone}
    return create_app(make_config(f"sqlite:///{tmp_path / 'tz.db'}", **extra))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- start-up -----------------------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["Asia/Jakrta", "WIB", "Asia", "Mars/Olympus", "../../etc/passwd", ""]
)
def test_an_unknown_zone_refuses_to_start(tmp_path, zone):
    with pytest.raises(ValueError, match="CAT_TIMEZONE"):
        zone_app(tmp_path, zone)


def test_an_unknown_zone_from_the_environment_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("CAT_TIMEZONE", "Asia/Jakrta")
    monkeypatch.setenv("CAT_SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("CAT_CHAIN_KEY", secrets.token_hex(32))
    monkeypatch.setenv("CAT_DATABASE_URL", f"sqlite:///{tmp_path / 'tz.db'}")
    with pytest.raises(ValueError, match="CAT_TIMEZONE 'Asia/Jakrta' is not a time zone"):
        create_app()
    monkeypatch.setenv("CAT_TIMEZONE", "Asia/Makassar")
    assert create_app().config["TIMEZONE"] == "Asia/Makassar"


# --- the module -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "label", "local"),
    [
        (None, "WIB", "2026-12-06 20:27"),  # the default: Asia/Jakarta
        ("Asia/Jakarta", "WIB", "2026-12-06 20:27"),
        ("Asia/Pontianak", "WIB", "2026-12-06 20:27"),
        ("Asia/Makassar", "WITA", "2026-12-06 21:27"),
        ("Asia/Jayapura", "WIT", "2026-12-06 22:27"),
        ("Asia/Singapore", "UTC+08:00", "2026-12-06 21:27"),
        ("America/St_Johns", "UTC-03:30", "2026-12-06 09:57"),
        ("UTC", "UTC", "2026-12-06 13:27"),
    ],
)
def test_a_time_is_shown_in_the_centre_zone_with_its_name(tmp_path, zone, label, local):
    from cat_server import localtime

    app = zone_app(tmp_path, zone)
    at = utc(2026, 12, 6, 13, 27, 5)
    with app.test_request_context():
        assert localtime.zone_label() == label
        assert localtime.to_local(at).strftime("%Y-%m-%d %H:%M") == local
        assert localtime.to_local(at) == at  # the same instant
        assert render_template_string("{{ t|local }}", t=at) == f"{local} {label}"
        assert render_template_string("{{ t|local_seconds }}", t=at) == f"{local}:05 {label}"
        assert render_template_string("{{ t|local('%H:%M') }}", t=at) == f"{local[11:]} {label}"
        assert render_template_string("{{ t|local_date }}", t=at) == local[:10]
        assert render_template_string("{{ t|local_clock }}", t=at) == local[11:] + ":05"
        # an ISO text (a stored JSON document's time) reads the same
        assert render_template_string("{{ t|local }}", t=at.isoformat()) == f"{local} {label}"
        assert render_template_string("{{ t|local }}", t=None) == ""


def test_typed_local_times_become_utc(tmp_path):
    from cat_server.localtime import iso_local, parse_local

    with zone_app(tmp_path).app_context():
        assert parse_local("2026-12-06 08:00") == utc(2026, 12, 6, 1, 0)
        assert parse_local("2026-12-06T08:00") == utc(2026, 12, 6, 1, 0)  # datetime-local
        assert parse_local(" 2026-12-06T08:00:30 ") == utc(2026, 12, 6, 1, 0, 30)
        assert parse_local("2026-12-06") == utc(2026, 12, 5, 17, 0)  # the local day's start
        # an inclusive "to": a date alone ends where the next local day starts
        assert parse_local("2026-12-06", end_of_day=True) == utc(2026, 12, 6, 17, 0)
        assert parse_local("2026-12-06 08:00", end_of_day=True) == utc(2026, 12, 6, 1, 0)
        for bad in ("", None, "06/12/2026", "2026-13-01", "2026-12-06 25:00", "kemarin"):
            assert parse_local(bad) is None
        assert parse_local("2026-12-06T08:00").tzinfo is UTC
        assert iso_local(utc(2026, 12, 6, 13, 27, 5, 123456)) == "2026-12-06T20:27:05+07:00"
        assert iso_local(None) == ""
    with zone_app(tmp_path, "Asia/Jayapura").app_context():
        assert parse_local("2026-12-06 08:00") == utc(2026, 12, 5, 23, 0)
        assert iso_local(utc(2026, 12, 5, 23, 0)) == "2026-12-06T08:00:00+09:00"


def test_the_module_is_shared_core_and_imports_no_room():
    import ast
    import pathlib

    import cat_server.localtime as module

    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not any(room in name for name in imported for room in ("exam", "proctor", "admin"))


# --- pages in another zone ---------------------------------------------------------


@pytest.fixture
def makassar(tmp_path):
    """A centre in WITA (Asia/Makassar, UTC+8), an admin logged in, one exam."""
    app = zone_app(tmp_path, "Asia/Makassar")
    with app.app_context():
        db.create_all()
        make_user("admin", "admin", "admin-pass-1")
        make_sitting(n_candidates=1)
    client = app.test_client()
    assert login_staff(client, "admin", "admin-pass-1").status_code == 302
    yield app, client
    with app.app_context():
        db.engine.dispose()


def test_makassar_types_and_reads_its_schedule_in_wita(makassar):
    app, admin = makassar
    form = admin.get("/admin/sittings").get_data(as_text=True)
    assert "(WITA)" in form and "(UTC)" not in form
    with app.app_context():
        exam_id = db.session.query(Exam).one().id
    response = admin.post(
        "/admin/sittings",
        data={"exam_id": str(exam_id), "name": "Sesi WITA", "scheduled_at": "2026-12-01T08:00"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        sitting = db.session.query(Sitting).filter_by(name="Sesi WITA").one()
        assert sitting.scheduled_at == utc(2026, 12, 1, 0, 0)
        sitting_id = sitting.id
        db.session.add(
            AuditEvent(actor="user:1", action="time_extended", at=utc(2026, 12, 6, 13, 27, 5))
        )
        db.session.commit()
    page = admin.get(f"/admin/sittings/{sitting_id}").get_data(as_text=True)
    assert "2026-12-01 08:00 WITA" in page
    assert "2026-12-01 08:00 WITA" in admin.get("/admin/sittings").get_data(as_text=True)
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "2026-12-06 21:27:05 WITA" in audit_page and "UTC" not in audit_page


# --- exports and their date ranges --------------------------------------------------

# (registration no, when the attempt was made) around the local day 2026-12-06 WIB
AROUND_THE_6TH = {
    "20260001": utc(2026, 12, 5, 16, 59),  # 23:59 WIB on the 5th
    "20260002": utc(2026, 12, 5, 18, 0),  # 01:00 WIB on the 6th
    "20260003": utc(2026, 12, 6, 16, 30),  # 23:30 WIB on the 6th
    "20260004": utc(2026, 12, 6, 17, 30),  # 00:30 WIB on the 7th
}


def attempts_around_the_6th(app):
    """One unscheduled sitting (its attempts count by their own time) of four attempts."""
    with app.app_context():
        sitting_id = make_sitting(n_candidates=4)
        for c in db.session.query(Candidate).filter_by(sitting_id=sitting_id):
            at = AROUND_THE_6TH[c.registration_no]
            db.session.add(
                Attempt(
                    sitting_id=sitting_id,
                    candidate_id=c.id,
                    created_at=at,
                    started_at=at,
                    status="in_progress",
                )
            )
        db.session.commit()


def exported(rows_csv: str) -> dict[str, dict]:
    return {r["registration_no"]: r for r in csv.DictReader(io.StringIO(rows_csv))}


def test_export_scores_from_a_date_means_that_local_day(app, runner, tmp_path):
    attempts_around_the_6th(app)
    out = tmp_path / "scores.csv"
    result = runner.invoke(args=["export-scores", "--from", "2026-12-06", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = exported(out.read_text(encoding="utf-8-sig"))
    assert set(rows) == {"20260002", "20260003", "20260004"}
    assert rows["20260002"]["started_at"] == "2026-12-06T01:00:00+07:00"
    result = runner.invoke(
        args=["export-scores", "--from", "2026-12-06", "--to", "2026-12-06", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert set(exported(out.read_text(encoding="utf-8-sig"))) == {"20260002", "20260003"}
    result = runner.invoke(args=["export-scores", "--to", "2026-12-05", "-o", str(out)])
    assert set(exported(out.read_text(encoding="utf-8-sig"))) == {"20260001"}


def test_export_scores_help_names_the_zone(app, runner):
    result = runner.invoke(args=["export-scores", "--help"])
    assert "WIB" in result.output and "UTC" not in result.output


def test_the_scores_page_range_is_in_local_days(app):
    with app.app_context():
        make_user("admin", "admin", "admin-pass-1")
    attempts_around_the_6th(app)
    admin = app.test_client()
    assert login_staff(admin, "admin", "admin-pass-1").status_code == 302
    page = admin.get("/admin/scores").get_data(as_text=True)
    assert "WIB" in page
    response = admin.get("/admin/scores/export.csv?from=2026-12-06&to=2026-12-06")
    assert response.status_code == 200
    assert "scores-2026-12-06_2026-12-06.csv" in response.headers["Content-Disposition"]
    rows = exported(response.data.decode("utf-8-sig"))
    assert set(rows) == {"20260002", "20260003"}
    assert rows["20260003"]["started_at"] == "2026-12-06T23:30:00+07:00"
    sheet = admin.get("/admin/scores/export.xlsx?from=2026-12-06T00:30&to=2026-12-06T01:30")
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    values = list(book["scores"].iter_rows(values_only=True))
    row = dict(zip(values[0], values[1], strict=True))
    assert len(values) == 2 and row["started_at"] == "2026-12-06T01:00:00+07:00"


def test_the_incident_report_reads_in_the_centre_zone(app, sitting_id):
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        sitting.started_at = utc(2026, 12, 6, 1, 0, 0)
        db.session.add(
            AuditEvent(
                actor="user:1",
                action="sitting_paused",
                sitting_id=sitting_id,
                reason="Gempa kecil",
                at=utc(2026, 12, 6, 2, 15, 30),
            )
        )
        db.session.commit()
    client = app.test_client()
    assert login_staff(client).status_code == 302
    page = client.get(f"/proctor/sittings/{sitting_id}/report").get_data(as_text=True)
    assert "2026-12-06 08:00:00 WIB" in page  # started
    assert "09:15:30" in page and "(WIB)" in page and "UTC" not in page
    english = client.get(f"/proctor/sittings/{sitting_id}/report?lang=en").get_data(as_text=True)
    assert "Time (WIB)" in english
    lines = client.get(f"/proctor/sittings/{sitting_id}/report.csv").get_data(as_text=True)
    assert lines.splitlines()[1].startswith("2026-12-06T09:15:30+07:00,action,pause sitting,")
