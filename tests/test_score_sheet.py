"""The score XLSX prints as a centre hangs or signs it (admin/score_sheet.py): the sitting's
head in WIB, one row a candidate with pass/fail where a pass mark exists, the signature block,
A4 fit to width with the table's header on every page and page numbers; the CSV's rows stay
on the sheet "scores"."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import openpyxl
import pytest

from cat_server.extensions import db
from cat_server.models import Attempt, ExamSection, Sitting, User
from tests.conftest import PIN, login_staff, make_sitting, make_user
from tests.test_admin import sit_exam


@pytest.fixture
def sitting_id(app):
    """Three candidates: 2026 0001 all right, 0002 all wrong, 0003 never came."""
    app.config["CENTRE_NAME"] = "UPT BKN Jakarta"
    with app.app_context():
        make_user("admin", "admin", "admin-pass-1")
        proctor = make_user("pengawas")
        sitting_id = make_sitting(n_candidates=3, name="Sesi Pagi", proctor=proctor)
    sit_exam(app, sitting_id, "20260001", PIN, ["A", "B", "C"])
    sit_exam(app, sitting_id, "20260002", PIN, ["E", "E", "E"])
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        sitting.scheduled_at = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 08:00 WIB
        sitting.started_at = datetime(2026, 12, 7, 1, 2, tzinfo=UTC)
        sitting.ended_at = datetime(2026, 12, 7, 2, 45, tzinfo=UTC)
        db.session.commit()
    return sitting_id


def export(app, sitting_id, lang="id") -> openpyxl.Workbook:
    admin = app.test_client()
    assert login_staff(admin, "admin", "admin-pass-1").status_code == 302
    response = admin.get(f"/admin/scores/export.xlsx?sitting={sitting_id}&lang={lang}")
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.data))


def rows(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def test_the_workbook_prints_on_a4_with_head_table_and_signatures(app, sitting_id):
    book = export(app, sitting_id)
    assert book.sheetnames == ["Sesi Pagi", "scores"]
    sheet = book.active
    assert sheet.title == "Sesi Pagi"
    values = rows(sheet)
    assert values[0][0] == "UPT BKN Jakarta"
    assert values[2][0] == "Sesi: Sesi Pagi, ruang Ruang 1"
    assert values[3][0] == (
        "Tanggal: 2026-12-07. Waktu (WIB): jadwal 08:00, mulai 08:02, berakhir 09:45"
    )
    assert values[4][0] == "Ujian: Ujian Sesi Pagi. Nilai ambang batas: TWK 5"
    assert values[6] == ("No.", "Nomor peserta", "Nama", "TWK", "Total", "Lulus/Tidak", "Status")
    with app.app_context():
        totals = {
            a.candidate.registration_no: a.total_score
            for a in db.session.execute(db.select(Attempt)).scalars()
        }
    assert totals == {"20260001": 15, "20260002": 0}
    assert values[7] == (1, "20260001", "Peserta 1", 15, 15, "Lulus", "Selesai")
    assert values[8] == (2, "20260002", "Peserta 2", 0, 0, "Tidak lulus", "Selesai")
    assert values[9][:3] == (3, "20260003", "Peserta 3")
    assert values[9][3:] == (None, None, None, "Tidak hadir")  # on the list, to sign for
    text = [c for row in values[10:] for c in row if c]
    assert "Pengawas ujian" in text and "Kepala UPT" in text and "Pengawas" in text
    assert "UPT BKN Jakarta, 2026-12-07" in text
    assert sum(1 for c in text if str(c).startswith("NIP")) == 2

    setup = sheet.page_setup
    assert int(setup.paperSize) == 9  # A4 in the OOXML paper codes
    assert setup.orientation == "portrait"  # seven columns fit a portrait page
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert (int(setup.fitToWidth), int(setup.fitToHeight)) == (1, 0)
    assert sheet.print_title_rows == "$7:$7"  # the table's header on every page
    assert sheet.freeze_panes == "A8"
    last = max(i for i, row in enumerate(values, start=1) if any(row))
    assert sheet.print_area == f"'Sesi Pagi'!$A$1:$G${last}"  # the signatures print too
    assert sheet.oddFooter.center.text == "Halaman &P dari &N"
    assert "WIB" in sheet.oddFooter.right.text and "Sesi Pagi" in sheet.oddFooter.left.text


def test_the_data_sheet_keeps_the_csv_rows(app, sitting_id):
    admin = app.test_client()
    assert login_staff(admin, "admin", "admin-pass-1").status_code == 302
    csv_text = admin.get(f"/admin/scores/export.csv?sitting={sitting_id}").data.decode("utf-8-sig")
    header = csv_text.splitlines()[0].split(",")
    data = rows(export(app, sitting_id)["scores"])
    assert list(data[0]) == header and len(data) == 3  # attempts only, as in the CSV
    assert header[:6] == ["registration_no", "name", "birth_date", "sitting", "exam", "seat"]


def test_english_words_for_an_english_admin(app, sitting_id):
    values = rows(export(app, sitting_id, lang="en").active)
    assert values[1][0] == "Score list"
    assert values[6] == (
        "No.",
        "Registration number",
        "Name",
        "TWK",
        "Total",
        "Pass/fail",
        "Status",
    )
    assert values[7][5:] == ("Passed", "Finished") and values[8][5] == "Failed"
    assert values[9][6] == "Absent"
    assert (
        values[3][0] == "Date: 2026-12-07. Time (WIB): scheduled 08:00, started 08:02, ended 09:45"
    )


def test_no_pass_column_without_a_pass_mark_and_landscape_when_wide(
    app, sitting_id, runner, tmp_path
):
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        sitting.exam.sections[0].pass_mark = None
        db.session.commit()
    values = rows(export(app, sitting_id).active)
    assert values[6] == ("No.", "Nomor peserta", "Nama", "TWK", "Total", "Status")
    assert values[4][0].endswith("Nilai ambang batas: tidak ditetapkan")

    with app.app_context():
        exam = db.session.get(Sitting, sitting_id).exam
        for k, code in enumerate(("TIU", "TKP"), start=2):
            exam.sections.append(
                ExamSection(position=k, code=code, name=code, n_items=1, pass_mark=80)
            )
        exam.pass_total = 311
        db.session.commit()
    path = tmp_path / "nilai.xlsx"
    made = runner.invoke(
        args=["export-scores", "--sitting", str(sitting_id), "--format", "xlsx", "-o", str(path)]
    )
    assert made.exit_code == 0, made.output
    sheet = openpyxl.load_workbook(path).active  # the CLI: the same sheet, in Indonesian
    assert sheet.page_setup.orientation == "landscape"
    assert rows(sheet)[4][0].endswith("Nilai ambang batas: TIU 80, TKP 80, Total 311")
    assert rows(sheet)[6][3:] == ("TWK", "TIU", "TKP", "Total", "Lulus/Tidak", "Status")


def test_a_proctor_s_name_and_sheet_names_excel_takes(app, sitting_id):
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        sitting.name = "Sesi 1/2: [pagi] gelombang pertama CPNS 2026"
        db.session.commit()
        assert db.session.execute(db.select(User).where(User.username == "pengawas")).scalar_one()
    book = export(app, sitting_id)
    assert book.sheetnames[0] == "Sesi 1-2- -pagi- gelombang pert"
    assert len(book.sheetnames[0]) <= 31


def test_a_date_range_gets_a_sheet_a_sitting(app, sitting_id, runner, tmp_path):
    with app.app_context():
        other = make_sitting(n_candidates=1, name="Sesi Siang")
    sit_exam(app, other, "20260001", PIN, ["A", "B", "C"])
    path = tmp_path / "minggu.xlsx"
    made = runner.invoke(
        args=["export-scores", "--from", "2026-01-01", "--to", "2030-12-31", "--format", "xlsx"]
        + ["-o", str(path)]
    )
    assert made.exit_code == 0, made.output
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Sesi Pagi", "Sesi Siang", "scores"]
    assert rows(book["Sesi Siang"])[7][:2] == (1, "20260001")
    assert len(rows(book["scores"])) == 1 + 3  # every attempt of both, once
    for sheet in book.worksheets[:2]:
        assert sheet.print_title_rows == "$7:$7" and sheet.page_setup.fitToWidth == 1
