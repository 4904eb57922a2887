"""Administration: bank uploads, exports, sittings, candidates, scores, chains (SQLite + PostgreSQL)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
import json
import re
import zipfile

import openpyxl
import pytest

from cat_server.exam import attempts
from cat_server.extensions import db, socketio
from cat_server.itembank.formats import DEMO_BANK, read_bank
from cat_server.models import (
    Attempt,
    AuditEvent,
    Candidate,
    Exam,
    Item,
    ItemBank,
    Response,
    Seat,
    Sitting,
)
from tests.conftest import PIN, login_candidate, login_staff, make_sitting, make_user
from tests.test_delivery import answer, current_state

# Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest).
pytestmark = pytest.mark.usefixtures("quick_hashes")

ADMIN = ("admin", "admin-pass-1")
HEADER = (
    "item_id,section,model,a,b,c,d,b1,b2,b3,b4,stem,option_a,option_b,option_c,option_d,"
    "option_e,key,score_a,score_b,score_c,score_d,score_e,status,enemy_group,media\n"
)
GOOD_ROWS = [
    "TWK901,TWK,2pl,1.2,0.1,,,,,,,Ibu kota negara adalah ...,Jakarta,Bandung,Medan,,,A,,,,,,,,",
    "TWK902,TWK,1pl,,-0.5,,,,,,,<b>Pancasila</b> sila ke-3 <script>alert(1)</script>adalah ...,"
    "Persatuan Indonesia,Keadilan sosial,,,,A,,,,,,,,",
    "TKP901,TKP,gpcm,0.9,,,,-1,0,1,,Sikap Anda ...,a,b,c,d,,,1,2,3,4,,,,",
]


@pytest.fixture
def admin(app):
    """A logged-in admin client (a proctor exists too)."""
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        make_user()
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    return client


def upload(client, data: bytes, filename: str, name="Bank Uji"):
    return client.post(
        "/admin/banks",
        data={"name": name, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def problems_of(response) -> list[tuple[str, str, str, str]]:
    """The rows of the problems table: (file, row, column, message)."""
    html = response.get_data(as_text=True)
    table = html.split('class="table problems-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td><td><code>(.*?)</code></td>"
        r"<td>(.*?)</td></tr>",
        table,
    )
    return rows


def n_banks(app):
    with app.app_context():
        return db.session.query(ItemBank).count(), db.session.query(Item).count()


def bad_csv() -> str:
    return (
        HEADER
        + "\n".join(
            [
                GOOD_ROWS[0],
                "TWK903,TWK,2pl,9,0.1,,,,,,,Soal,x,y,,,,A,,,,,,,,",  # a out of range
                "TWK901,TWK,2pl,1,0.1,,,,,,,Soal dua,x,y,,,,F,,,,,,,,",  # duplicate id, bad key
                GOOD_ROWS[2],
            ]
        )
        + "\n"
    )


def xlsx_of(text: str) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "items"
    for row in csv.reader(io.StringIO(text)):
        sheet.append([cell if cell != "" else None for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def json_of(text: str) -> bytes:
    rows = list(csv.DictReader(io.StringIO(text)))
    return json.dumps({"items": [{k: v for k, v in r.items() if v} for r in rows]}).encode()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_bad_bank_lists_every_problem_and_writes_nothing(app, admin, fmt):
    text = bad_csv()
    data = {"csv": text.encode(), "xlsx": xlsx_of(text), "json": json_of(text)}[fmt]
    response = upload(admin, data, f"bank.{fmt}")
    assert response.status_code == 422
    assert "tidak ada yang diimpor" in response.get_data(as_text=True)
    found = {(row, column) for _, row, column, _ in problems_of(response)}
    unit = "soal" if fmt == "json" else "baris"  # the page is in Indonesian
    first = 2 if fmt == "json" else 3  # JSON numbers items from 1, CSV rows from the header
    assert found == {
        (f"{unit} {first}", "a"),
        (f"{unit} {first + 1}", "item_id"),
        (f"{unit} {first + 1}", "key"),
    }
    assert all(file == f"bank.{fmt}" for file, *_ in problems_of(response))
    assert n_banks(app) == (0, 0)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_good_bank_imports_sanitised_and_a_reimport_is_a_new_version(app, admin, fmt):
    text = HEADER + "\n".join(GOOD_ROWS) + "\n"
    data = {"csv": text.encode(), "xlsx": xlsx_of(text), "json": json_of(text)}[fmt]
    response = upload(admin, data, f"bank.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert upload(admin, data, f"bank.{fmt}").status_code == 302
    with app.app_context():
        banks = db.session.query(ItemBank).order_by(ItemBank.version).all()
        assert [(b.name, b.version, len(b.items)) for b in banks] == [
            ("Bank Uji", 1, 3),
            ("Bank Uji", 2, 3),
        ]
        stem = db.session.query(Item).filter_by(code="TWK902").first().stem
        assert stem == "<b>Pancasila</b> sila ke-3 adalah ..."
        assert db.session.query(AuditEvent).filter_by(action="bank_imported").count() == 2


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_an_exported_bank_reads_back_to_the_same_items(app, admin, fmt):
    assert upload(admin, DEMO_BANK.read_bytes(), "demo_bank.csv").status_code == 302
    response = admin.get(f"/admin/banks/1/export.{fmt}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    back = read_bank(io.BytesIO(response.data), filename=f"export.{fmt}")
    assert back == read_bank(DEMO_BANK)
    # and the export imports again as version 2
    assert upload(admin, response.data, f"export.{fmt}", name="Bank Uji").status_code == 302


def test_media_come_in_a_zip_checked_for_unsafe_paths(app, admin, tmp_path):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    text = HEADER + GOOD_ROWS[0] + "media/peta.png\n"  # the last, empty cell is media
    response = upload(admin, text.encode(), "bank.csv")
    assert response.status_code == 422
    assert [(r, c) for _, r, c, _ in problems_of(response)] == [("baris 2", "media")]

    def zip_of(files):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
        return out.getvalue()

    evil = zip_of({"bank.csv": text, "../../etc/passwd.png": b"x", "media/peta.png": b"png"})
    response = upload(admin, evil, "bank.zip")
    assert response.status_code == 422
    assert "path tidak aman" in problems_of(response)[0][3]
    assert n_banks(app) == (0, 0)
    png = b"\x89PNG\r\n\x1a\n" + bytes(8)
    good = zip_of({"bank.csv": text, "media/peta.png": png})
    assert upload(admin, good, "bank.zip").status_code == 302
    assert (tmp_path / "media" / "bank-1" / "media" / "peta.png").read_bytes() == png


def test_retiring_an_item_is_audited_with_the_reason(app, admin):
    assert upload(admin, DEMO_BANK.read_bytes(), "demo_bank.csv").status_code == 302
    with app.app_context():
        item_id = db.session.query(Item).filter_by(code="TWK001").one().id
    response = admin.post(
        f"/admin/items/{item_id}/status", data={"status": "retired", "reason": "soal bocor"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Item, item_id).status == "retired"
        event = db.session.query(AuditEvent).filter_by(action="item_status").one()
        assert event.reason == "soal bocor" and event.actor.startswith("user:")
    assert ">pensiun<" in admin.get("/admin/banks/1").get_data(as_text=True)


# --- sittings and candidates ----------------------------------------------------


def schedule(app, admin) -> int:
    """Demo bank, an exam over TWK, a sitting: through the pages, as an administrator does."""
    assert upload(admin, DEMO_BANK.read_bytes(), "demo_bank.csv").status_code == 302
    response = admin.post(
        "/admin/exams",
        data={
            "name": "SKD Uji",
            "bank_id": "1",
            "duration_min": "30",
            "sections": "TWK, Tes Wawasan Kebangsaan, 3, 5",
            "pass_total": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        proctor_id = db.session.query(Exam).one() and make_proctor_id()
    response = admin.post(
        "/admin/sittings",
        data={
            "exam_id": "1",
            "name": "Sesi Pagi",
            "room": "Ruang 2",
            "scheduled_at": "2026-12-01T08:00",
            "proctors": [str(proctor_id)],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        sitting = db.session.query(Sitting).one()
        # typed in the centre's zone (WIB, UTC+7), stored in UTC
        assert sitting.scheduled_at.isoformat() == "2026-12-01T01:00:00+00:00"
        assert [p.username for p in sitting.proctors] == ["pengawas"]
        assert sitting.status == "scheduled"  # check-in closed until a proctor opens it
        attempts.open_check_in(sitting.id, "user:pengawas", "peserta sudah hadir")
        return sitting.id


def make_proctor_id():
    from cat_server.models import User

    return db.session.query(User).filter_by(role="proctor").one().id


CANDIDATES = (
    "registration_no,name,birth_date,sitting,seat\n"
    "2026100001,Budi Santoso,1995-04-12,Sesi Pagi,PC-01\n"
    "2026100002,Siti Rahmawati,1997-11-03,Sesi Pagi,PC-02\n"
)


def test_candidates_import_creates_seats_and_pins_that_log_in(app, admin):
    sitting_id = schedule(app, admin)
    response = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(CANDIDATES.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    pins = dict(
        re.findall(
            r"<code>(2026\d+)</code></td></tr>\s*<tr><th>PIN</th>"
            r"<td class=\"slip-pin\"><code>(\d{6})</code>",
            html,
        )
    )
    assert set(pins) == {"2026100001", "2026100002"}
    with app.app_context():
        seats = {c.registration_no: c.seat.label for c in db.session.query(Candidate)}
        assert seats == {"2026100001": "PC-01", "2026100002": "PC-02"}
    workstation = app.test_client()
    assert (
        login_candidate(workstation, sitting_id, "2026100002", pins["2026100002"]).status_code
        == 302
    )


def test_a_schedule_typed_in_wib_is_shown_in_wib_on_the_pages_and_the_pin_slips(app, admin):
    form = admin.get("/admin/sittings").get_data(as_text=True)
    assert "Tanggal dan jam (WIB)" in form
    sitting_id = schedule(app, admin)  # 2026-12-01T08:00 typed: 01:00 UTC stored
    for page in ("/admin/sittings", f"/admin/sittings/{sitting_id}"):
        html = admin.get(page).get_data(as_text=True)
        assert "2026-12-01 08:00 WIB" in html, page
        assert "UTC" not in html and "01:00" not in html, page
    slips = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(CANDIDATES.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    on_slip = '<td>2026-12-01 <span class="nowrap">08:00 WIB</span></td>'
    assert slips.count(on_slip) == 2 and "UTC" not in slips
    again = admin.post(
        f"/admin/sittings/{sitting_id}/pins", data={"reason": "slip hilang"}
    ).get_data(as_text=True)
    assert again.count(on_slip) == 2
    scores = admin.get("/admin/scores").get_data(as_text=True)
    assert "Sesi Pagi (2026-12-01, Ruang 2)" in scores


def test_a_schedule_in_the_early_morning_is_on_its_local_day(app, admin):
    schedule(app, admin)
    response = admin.post(
        "/admin/sittings",
        data={"exam_id": "1", "name": "Sesi Subuh", "scheduled_at": "2026-12-02T06:30"},
    )
    assert response.status_code == 302
    with app.app_context():
        sitting = db.session.query(Sitting).filter_by(name="Sesi Subuh").one()
        assert sitting.scheduled_at.isoformat() == "2026-12-01T23:30:00+00:00"  # the day before
    assert "2026-12-02 06:30 WIB" in admin.get("/admin/sittings").get_data(as_text=True)
    assert "Sesi Subuh (2026-12-02," in admin.get("/admin/scores").get_data(as_text=True)
    bad = admin.post(
        "/admin/sittings", data={"exam_id": "1", "name": "Sesi Salah", "scheduled_at": "besok"}
    )
    assert bad.status_code == 422
    assert "YYYY-MM-DD HH:MM, WIB" in bad.get_data(as_text=True)


def test_the_audit_trail_shows_local_times_with_their_zone(app, admin):
    from datetime import UTC, datetime

    with app.app_context():
        db.session.add(
            AuditEvent(
                actor="user:9",
                action="time_extended",
                reason="listrik padam",
                at=datetime(2026, 12, 6, 13, 27, 5, tzinfo=UTC),
            )
        )
        db.session.commit()
    for page in ("/admin/audit", "/admin/"):
        html = admin.get(page).get_data(as_text=True)
        assert "2026-12-06 20:27:05 WIB" in html, page
        assert "UTC" not in html and "13:27" not in html, page


def test_a_bank_shows_when_it_was_imported_in_wib(app, admin):
    from datetime import UTC, datetime

    assert upload(admin, DEMO_BANK.read_bytes(), "demo_bank.csv").status_code == 302
    with app.app_context():
        db.session.get(ItemBank, 1).created_at = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
        db.session.commit()
    for page in ("/admin/banks", "/admin/banks/1"):
        html = admin.get(page).get_data(as_text=True)
        assert "2026-12-07 03:00 WIB" in html and "UTC" not in html, page


def test_a_bad_candidates_file_lists_every_problem_and_enrols_nobody(app, admin):
    schedule(app, admin)
    bad = (
        "registration_no,name,birth_date,sitting,seat\n"
        "2026100001,Budi Santoso,1995-13-12,Sesi Pagi,PC-01\n"
        "2026100001,Siti,1997-11-03,Sesi Pagi,PC-02\n"
        "2026100003,,1997-11-03,Sesi Sore,PC-01\n"
        "2026100004,Dewi,,Sesi Pagi,PC-01\n"
    )
    response = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(bad.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert {(r, c) for _, r, c, _ in problems_of(response)} == {
        ("baris 2", "birth_date"),
        ("baris 3", "registration_no"),
        ("baris 4", "name"),
        ("baris 4", "sitting"),
        ("baris 5", "seat"),
    }
    # said at the top of the page, above the sittings list and every form (issue 18)
    page = response.get_data(as_text=True)
    top = page.index('data-testid="page-problems"')
    main = page.index("<main")
    assert top < main < page.index("<form", main) and top < page.index("<table", main)
    assert 'href="#problems"' in page[top:] and 'id="problems"' in page
    with app.app_context():
        assert db.session.query(Candidate).count() == 0
        assert db.session.query(Seat).count() == 0


def test_cli_import_candidates_prints_pins_or_exits_2(app, admin, runner, tmp_path):
    schedule(app, admin)
    good = tmp_path / "peserta.csv"
    good.write_text(CANDIDATES)
    result = runner.invoke(args=["import-candidates", str(good)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["seat"] for r in rows] == ["PC-01", "PC-02"] and all(len(r["pin"]) == 6 for r in rows)
    again = runner.invoke(args=["import-candidates", str(good)])
    assert again.exit_code == 2
    assert "peserta.csv, row 2, column registration_no: 2026100001 sudah terdaftar" in again.stderr


# --- delivery, export, chains ---------------------------------------------------


def sit_exam(app, sitting_id, registration_no, pin, choices):
    client = app.test_client()
    assert login_candidate(client, sitting_id, registration_no, pin).status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    with app.app_context():
        if db.session.get(Sitting, sitting_id).status == "open":
            attempts.start_sitting(sitting_id, "test")
    state = current_state(sock)
    for choice in choices:
        ack = answer(sock, state, choice)
        assert ack["ok"], ack
        state = ack["state"]
    sock.disconnect(namespace="/exam")
    return state


def test_new_pins_for_a_sitting_never_touch_a_candidate_who_has_started(app, admin):
    """Mid-exam, "new PINs and slips" must not log a running candidate out (issue 18)."""
    sitting_id = schedule(app, admin)
    response = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(CANDIDATES.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    pins = re.findall(r'class="slip-pin"><code>(\d{6})</code>', response.get_data(as_text=True))
    running = app.test_client()
    assert login_candidate(running, sitting_id, "2026100001", pins[0]).status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=running)
    with app.app_context():
        attempts.start_sitting(sitting_id, "test")
    state = current_state(sock)
    again = admin.post(f"/admin/sittings/{sitting_id}/pins", data={"reason": "slip hilang"})
    page = again.get_data(as_text=True)
    assert "1 peserta sudah mulai, PIN tetap" in page
    slips = re.findall(r'class="slip-pin"><code>(\d{6})</code>', page)
    assert len(slips) == 1  # only the candidate still waiting gets a new slip
    ack = answer(sock, state, "A")
    assert ack["ok"], ack  # the running candidate's login still works
    sock.disconnect(namespace="/exam")
    again_login = app.test_client()
    assert login_candidate(again_login, sitting_id, "2026100001", pins[0]).status_code == 302


def test_round_trip_import_deliver_export_read_back(app, admin):
    sitting_id = schedule(app, admin)
    response = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(CANDIDATES.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    pins = re.findall(r'class="slip-pin"><code>(\d{6})</code>', response.get_data(as_text=True))
    state = sit_exam(app, sitting_id, "2026100001", pins[0], ["A", "A", "A"])
    assert state["status"] == "finished"
    csv_response = admin.get(f"/admin/scores/export.csv?sitting={sitting_id}")
    assert csv_response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    with app.app_context():
        attempt = db.session.query(Attempt).one()
        last = db.session.query(Response).order_by(Response.seq.desc()).first()
        assert row["chain_hash"] == last.hash == attempt.chain_head
        assert row["total"] == str(attempt.total_score)
        assert row["TWK_score"] == str(attempt.section_scores["TWK"])
    assert row["registration_no"] == "2026100001" and row["name"] == "Budi Santoso"
    assert row["TWK_pass_mark"] == "5" and row["items_answered"] == "3"
    assert row["status"] == "finished" and row["started_at"] and row["finished_at"]
    xlsx = admin.get(f"/admin/scores/export.xlsx?sitting={sitting_id}")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data))["scores"]  # the CSV's rows
    values = list(sheet.iter_rows(values_only=True))
    assert dict(zip(values[0], values[1], strict=True))["chain_hash"] == row["chain_hash"]
    wide = admin.get(f"/admin/scores/responses.csv?sitting={sitting_id}").data.decode()
    header, person = list(csv.reader(io.StringIO(wide)))
    assert header[0] == "person_id" and person[0] == "2026100001" and len(header) == 4
    assert set(person[1:]) <= {"0", "1"}


def test_score_cells_that_look_like_formulas_are_escaped(app, admin):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
        candidate = db.session.query(Candidate).one()
        candidate.name = '=HYPERLINK("http://evil.example","klik")'
        candidate.registration_no = "+62811"
        db.session.commit()
    sit_exam(app, sitting_id, "+62811", PIN, ["A", "B", "C"])
    text = admin.get(f"/admin/scores/export.csv?sitting={sitting_id}").data.decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["name"] == '\'=HYPERLINK("http://evil.example","klik")'
    assert row["registration_no"] == "'+62811"
    data = admin.get(f"/admin/scores/export.xlsx?sitting={sitting_id}").data
    book = openpyxl.load_workbook(io.BytesIO(data))
    # XLSX: the exact text, a text cell with the quote prefix (spreadsheet.py), on both sheets
    for cell in (book["scores"]["B2"], book.active["C8"]):
        assert cell.value == '=HYPERLINK("http://evil.example","klik")'
        assert cell.data_type == "s" and cell.quotePrefix


def test_verify_names_a_tampered_response_row(app, admin, runner):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=2)
    sit_exam(app, sitting_id, "20260001", PIN, ["A", "B", "C"])
    sit_exam(app, sitting_id, "20260002", PIN, ["E", "E", "E"])
    ok = runner.invoke(args=["verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 2 attempts, 6 responses" in ok.stdout
    with app.app_context():
        row = (
            db.session.query(Response)
            .filter_by(seq=2)
            .join(Attempt)
            .join(Candidate)
            .filter(Candidate.registration_no == "20260002")
            .one()
        )
        row_id = row.id
        row.choice, row.score = "B", 5  # someone makes a wrong answer right
        db.session.commit()
    bad = runner.invoke(args=["verify"])
    assert bad.exit_code == 1
    assert (
        f"registration 20260002, sitting 'Sesi Uji'), response seq 2 (row id {row_id}): "
        "altered" in bad.stderr
    )
    assert " WIB) do not give its stored hash" in bad.stderr  # answered at, in local time
    assert "20260001" not in bad.stderr
    page = admin.post("/admin/verify").get_data(as_text=True)  # in Indonesian, the default
    assert f"jawaban soal ke-2 (id baris {row_id}): diubah" in page


# --- access --------------------------------------------------------------------


ADMIN_GETS = [
    "/admin/results/",
    "/admin/",
    "/admin/banks",
    "/admin/banks/1",
    "/admin/banks/1/export.csv",
    "/admin/items/1/preview",
    "/admin/banks/1/preview?section=TWK",
    "/admin/exams/1/sections/1/preview",
    "/admin/exams",
    "/admin/exams/build",
    "/admin/exams/1/build",
    "/admin/exams/1/export",
    "/admin/sittings",
    "/admin/sittings/1",
    "/admin/scores",
    "/admin/scores/export.csv?sitting=1",
    "/admin/scores/export.xlsx?sitting=1",
    "/admin/scores/responses.csv?sitting=1",
    "/admin/scores/response-log.csv?sitting=1",
    "/admin/audit",
    "/admin/calibration",
    "/admin/calibration/404",
    "/admin/banks/1/stats",
    "/admin/banks/1/information.svg",
    "/admin/users",
    "/admin/packages",
]
ADMIN_POSTS = [
    "/admin/banks",
    "/admin/packages",
    "/admin/items/1/status",
    "/admin/exams",
    "/admin/exams/1/board",
    "/admin/exams/build",
    "/admin/exams/1/build",
    "/admin/exams/import",
    "/admin/sittings",
    "/admin/candidates/import",
    "/admin/sittings/1/pins",
    "/admin/verify",
    "/admin/calibration",
    "/admin/calibration/404",
    "/admin/users",
    "/admin/users/1/role",
    "/admin/users/1/password",
    "/admin/users/1/active",
    "/admin/sittings/1/proctors",
    "/admin/results/1/export",  # sitting 1 is not over: back to the page, told why
]


def test_role_route_matrix(app):
    """Every route, anonymously and as each role: only the expected status codes."""
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        proctor = make_user()
        make_user("pengawas2", "proctor")
        sitting_id = make_sitting(proctor=proctor)
        assert sitting_id == 1
    clients = {
        "anonymous": app.test_client(),
        "candidate": app.test_client(),
        "proctor": app.test_client(),
        "other_proctor": app.test_client(),
        "admin": app.test_client(),
    }
    assert login_candidate(clients["candidate"], 1, "20260001").status_code == 302
    assert login_staff(clients["proctor"]).status_code == 302
    assert login_staff(clients["other_proctor"], "pengawas2").status_code == 302
    assert login_staff(clients["admin"], *ADMIN).status_code == 302

    def expected(role, method, url):
        if url.startswith("/admin"):
            if role in ("anonymous", "candidate"):
                return {302}  # to the staff login
            if role != "admin":
                return {403}
            if "/calibration/" in url:
                return {404}  # no such calibration run
            return {200} if method == "GET" else {200, 302, 400, 422}
        return None

    seen = []
    for method, url in [("GET", u) for u in ADMIN_GETS] + [("POST", u) for u in ADMIN_POSTS]:
        for role, client in clients.items():
            response = client.open(url, method=method)
            want = expected(role, method, url)
            seen.append((role, method, url, response.status_code))
            assert response.status_code in want, (role, method, url, response.status_code)
            if want == {302}:
                assert "/login" in response.headers["Location"]
    # Every other route: never a 5xx, never 200 for a role that may not use it.
    rules = {r.rule for r in app.url_map.iter_rules()}
    admin_rules = {r for r in rules if r.startswith("/admin")}

    def shape(url):
        return re.sub(r"<(int:)?[a-z_]+>|\d+|(?<=export\.)[a-z]+", "X", url.split("?")[0])

    untried = {shape(r) for r in admin_rules} - {shape(u) for _, _, u, _ in seen}
    assert not untried, f"admin routes missing from the matrix: {untried}"
    page_rules = {
        "/proctor/": {
            "anonymous": {302},
            "candidate": {302},
            "proctor": {200},
            "other_proctor": {200},
            "admin": {200},
        },
        "/proctor/sittings/1": {
            "anonymous": {302},
            "candidate": {302},
            "proctor": {200},
            "other_proctor": {403},
            "admin": {200},
        },
        "/exam/1/take": {
            "anonymous": {302},
            "candidate": {200},
            "proctor": {302},
            "other_proctor": {302},
            "admin": {302},
        },
        "/login": {r: {200, 302} for r in clients},
        "/healthz": {r: {200} for r in clients},
    }
    for url, by_role in page_rules.items():
        for role, client in clients.items():
            code = client.get(url).status_code
            assert code in by_role[role], (role, url, code)


def test_forms_without_a_csrf_token_are_rejected(app):
    app.config["WTF_CSRF_ENABLED"] = True
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]}).status_code == 400
    )
    assert (
        client.post(
            "/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token}
        ).status_code
        == 302
    )
    text = HEADER + GOOD_ROWS[0] + "\n"
    no_token = client.post(
        "/admin/banks",
        data={"name": "X", "file": (io.BytesIO(text.encode()), "b.csv")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/admin/banks").get_data(as_text=True)
    ).group(1)
    with_token = client.post(
        "/admin/banks",
        data={"name": "X", "csrf_token": token, "file": (io.BytesIO(text.encode()), "b.csv")},
        content_type="multipart/form-data",
    )
    assert with_token.status_code == 302
    with app.app_context():
        assert db.session.query(ItemBank).count() == 1


# --- login limits ----------------------------------------------------------------


def test_per_account_limit_stops_pin_guessing_but_not_the_neighbours(app, sitting_id):
    client = app.test_client()  # every workstation of the centre: one NAT address
    for _ in range(5):
        assert login_candidate(client, sitting_id, "20260001", pin="000000").status_code == 401
    blocked = login_candidate(client, sitting_id, "20260001", pin=PIN)  # even the right PIN
    assert blocked.status_code == 429
    assert "Terlalu banyak percobaan" in blocked.get_data(as_text=True)
    assert login_candidate(client, sitting_id, "20260002").status_code == 302
    for _ in range(5):
        assert login_staff(client, "pengawas", "salah").status_code == 401
    assert login_staff(client).status_code == 429


def test_per_ip_limit_lets_a_whole_centre_log_in(app, sitting_id):
    """600 logins a minute from one address pass; the limit is there, above that."""
    client = app.test_client()
    codes = [
        login_candidate(client, sitting_id, f"9{i:07d}", pin="000000").status_code
        for i in range(600)
    ]
    assert set(codes) == {401}  # wrong PIN, never "too many"
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    limit = int(app.config["LOGIN_LIMIT_PER_IP"].split()[0])
    codes = [
        login_candidate(client, sitting_id, f"8{i:07d}", pin="000000").status_code
        for i in range(limit - 601)
    ]
    assert set(codes) == {401}
    assert login_candidate(client, sitting_id, "20260002").status_code == 429


def test_limits_are_shared_through_redis_by_every_process(app, db_url, redis_url):
    """With Redis storage the counts live in Redis, so every process of a centre shares them."""
    import secrets

    import redis

    from cat_server import create_app
    from tests.conftest import make_config

    username = f"pengawas-{secrets.token_hex(4)}"
    # REDIS_URL would also start the Socket.IO queue, which the test client refuses;
    # init_limiter takes REDIS_URL as the storage (checked at the end), as this does.
    # a prefix of its own: the per-address counts of 127.0.0.1 in this Redis are shared
    # with any other test run on the machine
    prefix = f"test-{secrets.token_hex(4)}"
    apps = [
        create_app(
            make_config(db_url, RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=prefix)
        )
        for _ in range(2)
    ]
    with apps[0].app_context():
        make_user(username)
    for i in range(5):
        assert login_staff(apps[i % 2].test_client(), username, "salah").status_code == 401
    assert login_staff(apps[1].test_client(), username).status_code == 429
    assert login_staff(apps[0].test_client(), username).status_code == 429
    keys = redis.Redis.from_url(redis_url).keys(f"*account:staff:{username}*")
    assert keys, "the per-account count is not in Redis"
    for each in apps:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()
    from flask import Flask

    from cat_server.extensions import init_limiter

    bare = Flask("bare")
    bare.config["REDIS_URL"] = redis_url
    init_limiter(bare)
    assert bare.config["RATELIMIT_STORAGE_URI"] == redis_url


def test_the_audit_view_keeps_staff_actions_in_reach_of_a_flood_of_candidate_events(app, admin):
    """Issue 16: 500 focus-lost rows must not push a proctor's extension out of view."""
    from cat_server.models import audit

    with app.app_context():
        audit("user:9", "time_extended", reason="listrik padam")
        for n in range(500):
            audit("candidate:3", "focus_lost", n=n)
        db.session.commit()
    everything = admin.get("/admin/audit").get_data(as_text=True)
    assert ">time_extended</code>" not in everything  # 100 a page: the flood fills the first one
    staff = admin.get("/admin/audit?who=staff").get_data(as_text=True)
    assert "time_extended" in staff and "listrik padam" in staff and "focus_lost" not in staff
    assert "time_extended" in admin.get("/admin/audit?action=time_extended").get_data(as_text=True)
    page, seen = "/admin/audit?who=candidates", 0
    while page:
        html = admin.get(page).get_data(as_text=True)
        seen += html.count(">focus_lost</code>")
        found = re.search(r'href="(/admin/audit\?[^"]*before=\d+[^"]*)"', html)
        page = found.group(1).replace("&amp;", "&") if found else None
    assert seen == 500  # every row reachable, page by page, none twice
    assert admin.get("/admin/audit?before=99999999999999999999&sitting=-4").status_code == 200


def test_an_exported_bank_csv_imports_back_to_the_same_text(app, admin):
    """Formula-like text leaves defused (a leading apostrophe) and comes back exactly."""
    rows = [r for r in read_bank(DEMO_BANK)[:3]]
    tricky = ["=SUM(A1:A2)", "+62 21 555", "-5 derajat\r\nbaris dua", "@pengawas"]
    source = io.BytesIO()
    from cat_server.itembank.formats import write_bank

    rows[0] = rows[0].__class__(**{**rows[0].__dict__, "stem": tricky[0]})
    rows[1] = rows[1].__class__(**{**rows[1].__dict__, "stem": tricky[1]})
    rows[2] = rows[2].__class__(**{**rows[2].__dict__, "stem": tricky[2]})
    write_bank(rows, source, "json")
    assert upload(admin, source.getvalue(), "bank.json", name="Bank Rumus").status_code == 302
    with app.app_context():
        bank_id = db.session.query(ItemBank).filter_by(name="Bank Rumus").one().id
    exported = admin.get(f"/admin/banks/{bank_id}/export.csv").data
    assert b"'=SUM" in exported  # defused in the file a spreadsheet opens
    assert upload(admin, exported, "bank.csv", name="Bank Rumus lagi").status_code == 302
    with app.app_context():
        again = db.session.query(ItemBank).filter_by(name="Bank Rumus lagi").one()
        stems = [i.stem for i in sorted(again.items, key=lambda i: i.position)]
    assert stems[:3] == [tricky[0], tricky[1], tricky[2].replace("\r\n", "\n")]


def test_the_response_log_has_every_stored_answer_in_written_order_with_its_hashes(
    app, admin, runner, tmp_path
):
    """Issue 17: per response the seq, item code, choice, score, time and hash."""
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=3)
        exam = db.session.get(Sitting, sitting_id).exam
        exam.sections[0].navigable = True
        db.session.commit()
        attempts.start_sitting(sitting_id, "test")
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = current_state(sock)
    first, second = state["items"][0], state["items"][1]
    for entry, choice in ((first, "A"), (second, "C"), (first, "B")):  # seq 1 changed
        payload = {"seq": entry["seq"], "item": entry["item"]["id"], "choice": choice}
        assert answer(sock, state, **payload)["ok"]
    text = admin.get(f"/admin/scores/response-log.csv?sitting={sitting_id}").data.decode(
        "utf-8-sig"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["n"], r["seq"], r["choice"], r["score"]) for r in rows] == [
        ("1", "1", "A", "5"),
        ("2", "2", "C", "0"),
        ("3", "1", "B", "0"),
    ]
    assert [r["item_code"] for r in rows] == ["TWK001", "TWK002", "TWK001"]
    # the chain starts at whose attempt it is: registration number, sitting, exam
    whose = [rows[0][c] for c in ("attempt_id", "registration_no", "sitting_id", "exam_id")]
    with app.app_context():
        key = app.extensions["cat_chain_key"]
    genesis = "\n".join(["cat-server chain genesis", *whose]).encode()
    assert rows[0]["prev_hash"] == hmac.new(key, genesis, hashlib.sha256).hexdigest()
    assert rows[1]["prev_hash"] == rows[0]["hash"] and rows[2]["prev_hash"] == rows[1]["hash"]
    assert rows[0]["answered_at"].endswith("+07:00")
    # docs/formats.md's check, as a key holder runs it
    for r in rows:
        link = [r["prev_hash"], int(r["attempt_id"]), int(r["seq"]), int(r["item_id"])]
        link += [r["choice"], int(r["score"]), r["answered_at_utc"]]
        covered = json.dumps(link, separators=(",", ":")).encode()
        assert hmac.new(key, covered, hashlib.sha256).hexdigest() == r["hash"]
    out = tmp_path / "log.csv"
    done = runner.invoke(
        args=["export-scores", "--sitting", str(sitting_id), "--response-log", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert out.read_bytes().decode("utf-8-sig") == text


def test_an_inline_image_must_come_in_the_zip_and_stay_inside_it(app, admin, tmp_path):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    row = (
        'TWK903,TWK,2pl,1,0,,,,,,,"Grafik: <img src=""media/grafik.png"" alt=""grafik"">",'
        '"<img src=""//contoh.invalid/a.png"">",Dua,,,,A,,,,,,,,\n'
    )

    def zip_of(files):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
        return out.getvalue()

    response = upload(admin, zip_of({"bank.csv": HEADER + row}), "bank.zip")
    assert response.status_code == 422
    found = [(r, c, html.unescape(m)) for _, r, c, m in problems_of(response)]
    assert [(r, c) for r, c, _ in found] == [("baris 2", "stem"), ("baris 2", "option_a")]
    assert "'media/grafik.png' tidak ada di unggahan" in found[0][2]
    assert "diharapkan jalur relatif di dalam .zip" in found[1][2]
    assert n_banks(app) == (0, 0)  # nothing half-written
    fixed = HEADER + row.replace("//contoh.invalid/a.png", "media/grafik.png")
    good = zip_of({"bank.csv": fixed, "media/grafik.png": b"\x89PNG\r\n\x1a\n" + bytes(8)})
    assert upload(admin, good, "bank.zip").status_code == 302
