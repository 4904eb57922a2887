"""Every export is formula-safe (issue 16), header cells included.

Text typed by people (item codes and stems, section codes, exam, sitting and
candidate names, registration numbers, seat labels, incident notes) reaches the
score, response, bank and incident exports, from the admin pages and from the
CLI. A spreadsheet must run none of it: in CSV a cell starting with
``= + - @``, tab or CR gets a leading apostrophe (OWASP's CSV injection rule),
reversibly; in XLSX it is a text cell marked "quote prefix" (text even when
edited), never a formula. Numbers stay numbers, and JSON stays exact.

A spreadsheet may also cut a cell where the writer did not: an Indonesian
locale at ``;``, an import dialog at tab, a reader ignoring quotes at any comma
or line break. So each CSV is read those ways too, and no piece may start a
formula (issue 16, second attack: ``Budi;=cmd|...``).
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cat_server import spreadsheet
from cat_server.extensions import db
from cat_server.models import Candidate, Exam, ExamSection, Incident, Item, Seat, Sitting, User
from cat_server.spreadsheet import FORMULA_STARTS, restore_cell, safe_cell
from tests.conftest import PIN, login_staff, make_sitting, make_user
from tests.test_admin import sit_exam

ADMIN = ("admin", "admin-pass-1")
HOSTILE = {
    "item_codes": ['=HYPERLINK("http://evil.example","klik")', "-1+2", "K1;@SUM(A1)"],
    "stem": "=1+1 adalah ...; =HYPERLINK(1)\n-2+3",
    # (no CR in bank text: the bank CSV writer leaves a bare CR unquoted, a bug of its own)
    "options": ["+62811", "-5;=1+1", "\tTAB", "@A1,=2", "=A1\t+1"],
    "section": "=SEC",
    "exam": "+Ujian;-1",
    "sitting": "Sesi 1;=1+1",
    "names": ["=cmd|' /C calc'!A0", "Budi;=cmd|' /C calc'!A0\r-2+3"],
    "registration_nos": ["+62811", "2026;@1"],
    "seat": "PC\t=1",
    "incident": "pingsan;=1+1, -2+3",
    "enemy_group": "-grp;=1",
}


@pytest.fixture
def admin(app):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    return client


@pytest.fixture
def hostile(app, admin):
    """A sitting whose every text field is a formula; both candidates finish."""
    with app.app_context():
        proctor = make_user()
        sitting_id = make_sitting(n_candidates=2, n_items=3, proctor=proctor)
        sitting = db.session.get(Sitting, sitting_id)
        exam = db.session.get(Exam, sitting.exam_id)
        exam.name, sitting.name = HOSTILE["exam"], HOSTILE["sitting"]
        db.session.query(ExamSection).filter_by(exam_id=exam.id).one().code = HOSTILE["section"]
        items = db.session.query(Item).filter_by(bank_id=exam.bank_id).order_by(Item.position)
        for n, (item, code) in enumerate(zip(items, HOSTILE["item_codes"], strict=True)):
            item.code, item.section, item.stem = code, HOSTILE["section"], HOSTILE["stem"]
            item.options = list(HOSTILE["options"])
            # one item of the group: two would never share an attempt (issue 17)
            item.enemy_group = HOSTILE["enemy_group"] if n == 0 else None
        candidates = db.session.query(Candidate).filter_by(sitting_id=sitting_id)
        for candidate, name, number in zip(
            candidates.order_by(Candidate.id),
            HOSTILE["names"],
            HOSTILE["registration_nos"],
            strict=True,
        ):
            candidate.name, candidate.registration_no = name, number
        db.session.query(Seat).filter_by(sitting_id=sitting_id, position=1).one().label = HOSTILE[
            "seat"
        ]
        db.session.add(
            Incident(
                sitting_id=sitting_id,
                actor=f"user:{proctor.id}",
                category="other",
                text=HOSTILE["incident"],
            )
        )
        db.session.commit()
        bank_id = exam.bank_id
    for number in HOSTILE["registration_nos"]:
        assert sit_exam(app, sitting_id, number, PIN, ["A", "B", "C"])["status"] == "finished"
    return {"sitting": sitting_id, "bank": bank_id}


def csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # "-0.25": a number, no formula


def starts_a_formula(cell: str) -> bool:
    cell = cell.lstrip(" ")
    return cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)


def csv_problems(name: str, text: str, *must_hold: str) -> list[str]:
    """Cells (header included) that start a formula, and hostile values lost on the way.

    Read as written (comma), as a semicolon or tab locale reads it, and cut at
    every separator whatever the quotes.
    """
    cells = csv_cells(text)
    found = [f"{name}: formula cell {c!r}" for c in cells if starts_a_formula(c)]
    body = text.lstrip("\ufeff")
    for sep in (";", "\t"):
        found += [
            f"{name}: formula cell {c!r} where {sep!r} separates"
            for row in csv.reader(io.StringIO(body, newline=""), delimiter=sep)
            for c in row
            if starts_a_formula(c)
        ]
    found += [
        f"{name}: formula piece {p!r} ignoring quotes"
        for p in re.split("[,;\t\r\n]", body)
        if starts_a_formula(p)
    ]
    restored = {restore_cell(c) for c in cells}
    return found + [f"{name}: lost {v!r}" for v in must_hold if v not in restored]


def xlsx_problems(name: str, data: bytes, *must_hold: str) -> list[str]:
    """Formula cells, text starting like one without the quote prefix, and values lost."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    found, values = [], set()
    # every sheet: the score workbook's print sheet as well as its data sheet
    for row in (row for sheet in book.worksheets for row in sheet.iter_rows()):
        for cell in row:
            values.add(cell.value)
            if cell.data_type == "f" or (
                isinstance(cell.value, str)
                and cell.value.startswith(FORMULA_STARTS)
                and not (cell.data_type == "s" and cell.quotePrefix)
            ):
                found.append(f"{name}: {cell.coordinate}={cell.value!r} ({cell.data_type})")
    # XML reads a CR in text back as LF: the cell held it, as text
    lost = [v for v in must_hold if v.replace("\r", "\n") not in values]
    return found + [f"{name}: lost {v!r}" for v in lost]


def test_every_export_neutralises_formula_cells(app, admin, hostile, runner, tmp_path):
    sitting_id, bank_id = hostile["sitting"], hostile["bank"]
    people = [*HOSTILE["names"], *HOSTILE["registration_nos"]]
    scores_header = [f"{HOSTILE['section']}_score", f"{HOSTILE['section']}_pass_mark"]
    where = [HOSTILE["sitting"], HOSTILE["exam"], HOSTILE["seat"]]
    texts = [HOSTILE["stem"], HOSTILE["enemy_group"], *HOSTILE["options"]]

    problems = []
    response = admin.get(f"/admin/scores/export.csv?sitting={sitting_id}")
    problems += csv_problems(
        "scores.csv", response.get_data(as_text=True), *people, *scores_header, *where
    )
    response = admin.get(f"/admin/scores/export.xlsx?sitting={sitting_id}")
    problems += xlsx_problems("scores.xlsx", response.data, *people, *scores_header, *where)
    response = admin.get(f"/admin/scores/responses.csv?sitting={sitting_id}")
    problems += csv_problems(
        "responses.csv",
        response.get_data(as_text=True),
        *HOSTILE["item_codes"],
        *HOSTILE["registration_nos"],
    )
    response = admin.get(f"/admin/banks/{bank_id}/export.csv")
    problems += csv_problems(
        "bank.csv", response.get_data(as_text=True), *HOSTILE["item_codes"], *texts
    )
    response = admin.get(f"/admin/banks/{bank_id}/export.xlsx")
    problems += xlsx_problems("bank.xlsx", response.data, *HOSTILE["item_codes"], *texts)
    # JSON is no spreadsheet: exact
    items = json.loads(admin.get(f"/admin/banks/{bank_id}/export.json").data)["items"]
    assert [i["item_id"] for i in items] == HOSTILE["item_codes"]
    assert items[0]["stem"] == HOSTILE["stem"] and items[0]["option_b"] == "-5;=1+1"
    response = admin.get(f"/proctor/sittings/{sitting_id}/report.csv")
    problems += csv_problems("incidents.csv", response.get_data(as_text=True), HOSTILE["incident"])

    # the same files from the command line
    for args, name in (
        (["--format", "csv"], "scores.csv"),
        (["--format", "xlsx"], "scores.xlsx"),
        (["--responses"], "responses.csv"),
    ):
        out = tmp_path / name
        result = runner.invoke(
            args=["export-scores", "--sitting", str(sitting_id), *args, "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        if name.endswith(".xlsx"):
            problems += xlsx_problems(f"cli {name}", out.read_bytes(), *people, *scores_header)
        elif name == "responses.csv":
            problems += csv_problems(
                f"cli {name}", out.read_bytes().decode("utf-8"), *HOSTILE["item_codes"]
            )
        else:
            problems += csv_problems(
                f"cli {name}", out.read_bytes().decode("utf-8-sig"), *people, *scores_header
            )
    assert problems == [], "\n".join(problems)


def test_numbers_stay_numbers(app, admin, hostile):
    """Negative parameters and thetas are numbers, not text behind an apostrophe."""
    with app.app_context():
        item = db.session.query(Item).filter_by(bank_id=hostile["bank"]).first()
        item.b = -1.25
        db.session.commit()
    text = admin.get(f"/admin/banks/{hostile['bank']}/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["b"] == "-1.25"
    sheet = openpyxl.load_workbook(
        io.BytesIO(admin.get(f"/admin/banks/{hostile['bank']}/export.xlsx").data)
    ).active
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("b") + 1).value == -1.25


def test_the_pins_csv_header_and_cells_go_through_the_same_rule(app):
    from cat_server.admin.candidates import NewCandidate, write_pins_csv

    out = io.StringIO()
    write_pins_csv([NewCandidate("+62811", "=X", None, 1, "-S", "R", None, "@A1", "123456")], out)
    assert csv_problems("pins.csv", out.getvalue(), "+62811", "=X", "-S", "@A1") == []


@given(st.text() | st.text(alphabet="=+-@\t\r\n,; 'a1"))
def test_safe_cell_never_starts_a_formula_and_restore_cell_undoes_it(text):
    safe = safe_cell(text)
    assert not safe.startswith(FORMULA_STARTS)
    assert spreadsheet.formula_cuts(safe) == []  # nor after any separator
    assert restore_cell(safe) == text
    assert safe.replace("'", "") == text.replace("'", "")  # only apostrophes added


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        (";=cmd|' /C calc'!A0", ";'=cmd|' /C calc'!A0"),
        ("Budi;=1+1", "Budi;'=1+1"),
        ("Budi; -1+2", "Budi; '-1+2"),
        ("a,@SUM(1)", "a,'@SUM(1)"),
        ("a\t+1", "a\t'+1"),
        ("baris\n=1", "baris\n'=1"),
        ("Siti Rahmawati, S.Pd.", "Siti Rahmawati, S.Pd."),  # nothing to defuse
        ("a;'=1", "a;''=1"),  # an apostrophe already there: one more, so it restores
    ],
)
def test_a_formula_after_a_separator_is_defused(text, safe):
    """Issue 16, second attack: ``;=cmd`` became a formula in a semicolon locale."""
    assert safe_cell(text) == safe and restore_cell(safe) == text


def test_a_user_with_a_formula_name_is_safe_in_the_incident_report(app, admin):
    """Usernames reach the report's "who" column."""
    with app.app_context():
        proctor = make_user("-pengawas")
        sitting_id = make_sitting(n_candidates=1, proctor=proctor)
        db.session.add(
            Incident(sitting_id=sitting_id, actor=f"user:{proctor.id}", category="other", text="x")
        )
        db.session.commit()
        assert db.session.get(User, proctor.id).username == "-pengawas"
    text = admin.get(f"/proctor/sittings/{sitting_id}/report.csv").get_data(as_text=True)
    assert csv_problems("incidents.csv", text, "-pengawas") == []


def test_calibrated_parameters_keep_item_ids_formula_safe(tmp_path, rng):
    """``cat-server calibrate`` reads our responses export back and writes PARAMS.csv."""
    from click.testing import CliRunner

    from cat_server import irt
    from cat_server.engine_cli import calibrate_command

    codes = ["=A1", "-B2", "C3", "@D4"]
    x = irt.simulate_responses(
        rng.normal(size=400), irt.make_items(np.ones(4), np.linspace(-1, 1, 4)), rng
    )
    responses = tmp_path / "responses.csv"
    responses.write_bytes(
        spreadsheet.csv_bytes(["person_id", *codes], [[f"P{i}", *row] for i, row in enumerate(x)])
    )
    out = tmp_path / "params.csv"
    result = CliRunner().invoke(calibrate_command, [str(responses), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")
    assert csv_problems("params.csv", text, *codes) == []
    ids = [restore_cell(row["item_id"]) for row in csv.DictReader(io.StringIO(text))]
    assert ids == codes
