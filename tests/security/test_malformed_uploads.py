"""Malformed uploads, by class: every upload path answers with the problem list, never a 500.

Paths: the bank page and ``cat-server load-bank`` (CSV, JSON, XLSX, QTI .xml,
QTI content package .zip, bank .zip with media), the candidates page and
``import-candidates``, the calibration page and ``calibrate-bank --responses``.
Inputs: empty, binary garbage with the right extension, truncated or damaged
zips and workbooks, workbooks without sheets, nested zips, encrypted or
unsupported zip members, CSV in the wrong encoding or with NUL bytes, ragged
rows, oversized cells, JSON of the wrong type (numbers, nesting, huge ints,
NaN, invalid Unicode), QTI that is not well-formed, has a DTD or the wrong
namespace. Each gets 422 on the page (exit code 2 on the command line) with a
message naming the file, and writes nothing.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cat_server.extensions import db
from cat_server.itembank.formats import BankFormatError, read_bank
from cat_server.models import AuditEvent, Candidate, Item, ItemBank, Seat
from tests.conftest import login_staff, make_sitting, make_user
from tests.security.test_uploads import good_xlsx, lie_about_size, rewrite_member, xlsx_bytes
from tests.test_admin import ADMIN, GOOD_ROWS, HEADER, upload
from tests.test_admin_qti import item_xml, package

# Logins here are setup, not the subject (this module is about files): lowest argon2 cost.
pytestmark = pytest.mark.usefixtures("quick_hashes")

ROOT = Path(__file__).resolve().parents[2]
GOOD_CSV = HEADER + GOOD_ROWS[0] + "\n"
SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture
def admin(app, tmp_path):
    app.config["MEDIA_DIR"] = str(tmp_path / "media")
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    return client


def nothing_imported(app, tmp_path):
    with app.app_context():
        assert db.session.query(ItemBank).count() == 0
        assert db.session.query(Item).count() == 0
        assert db.session.query(AuditEvent).filter_by(action="bank_imported").count() == 0
    media = tmp_path / "media"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def refused(response, filename, words):
    """422 with the problem list: the file named, the expected words, no traceback."""
    text = response.get_data(as_text=True)
    assert response.status_code == 422, (response.status_code, text[-1500:])
    assert "Traceback" not in text
    assert filename in text, text[-1500:]
    lower = text.lower()
    assert all(w.lower() in lower for w in words), (words, text[-1500:])


# ------------------------------------------------------------------ builders


def zip_bytes(files: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def without_member(data: bytes, name: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    return zip_bytes({i.filename: source.read(i) for i in source.infolist() if i.filename != name})


def patch_headers(data: bytes, *, flags: int | None = None, method: int | None = None) -> bytes:
    """Every local and central header's flags (bit 0: encrypted) or compression method."""
    data = bytearray(data)
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(signature)
        while at >= 0:
            if flags is not None:
                struct.pack_into("<H", data, at + flags_at, flags)
            if method is not None:
                struct.pack_into("<H", data, at + method_at, method)
            at = data.find(signature, at + 4)
    return bytes(data)


def damage_member(data: bytes, name: str) -> bytes:
    """Flip the first bytes of ``name``'s compressed data (its headers stay intact)."""
    data = bytearray(data)
    at = data.find(b"PK\x03\x04")
    while at >= 0:
        name_length, extra_length = struct.unpack_from("<HH", data, at + 26)
        if data[at + 30 : at + 30 + name_length] == name.encode():
            start = at + 30 + name_length + extra_length
            for i in range(start, start + 16):
                data[i] ^= 0xFF
        at = data.find(b"PK\x03\x04", at + 4)
    return bytes(data)


def sheet_xml() -> bytes:
    return zipfile.ZipFile(io.BytesIO(good_xlsx())).read(SHEET)


def with_sheet(xml: bytes) -> bytes:
    return rewrite_member(good_xlsx(), SHEET, xml)


def extra_row(cells: str) -> bytes:
    return with_sheet(sheet_xml().replace(b"</sheetData>", f"{cells}</sheetData>".encode()))


def no_sheets() -> bytes:
    workbook = zipfile.ZipFile(io.BytesIO(good_xlsx())).read("xl/workbook.xml")
    return rewrite_member(
        good_xlsx(), "xl/workbook.xml", re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", workbook)
    )


def json_item(**changes) -> dict:
    item = {
        "item_id": "TWK901",
        "section": "TWK",
        "model": "2pl",
        "a": 1.2,
        "b": 0.1,
        "stem": "Ibu kota negara adalah ...",
        "option_a": "Jakarta",
        "option_b": "Bandung",
        "key": "A",
    }
    item.update(changes)
    return item


def json_bank(**changes) -> bytes:
    return json.dumps([json_item(**changes)]).encode()


def csv_row(**changes) -> str:
    columns = HEADER.strip().split(",")
    values = dict(zip(columns, GOOD_ROWS[0].split(","), strict=True))
    values.update(changes)
    return HEADER + ",".join(values[c] for c in columns) + "\n"


def qti_package_item(data: bytes = b"") -> bytes:
    return package({"items/tiu401.xml": data.decode() if data else item_xml()})


# (file name, the bytes, words the problem list must hold); each must be refused with 422.
# The words are the CLI's (English); the page (Indonesian) holds them as IN_INDONESIAN says.
BANK_CASES = {
    # empty files
    "empty-csv": ("bank.csv", lambda: b"", ["empty"]),
    "empty-json": ("bank.json", lambda: b"", ["empty"]),
    "empty-xlsx": ("bank.xlsx", lambda: b"", ["xlsx"]),
    "empty-xml": ("item.xml", lambda: b"", ["empty"]),
    "empty-zip": ("bank.zip", lambda: b"", ["zip"]),
    # binary garbage with the right extension
    "garbage-csv": ("bank.csv", lambda: bytes(range(128, 256)) * 8, ["utf-8"]),
    "garbage-json": ("bank.json", lambda: b"\x89PNG\r\n\x1a\n" * 50, ["utf-8"]),
    "garbage-xlsx": ("bank.xlsx", lambda: b"\x00\xff garbage" * 100, ["xlsx"]),
    "garbage-xml": ("item.xml", lambda: b"\x89PNG\r\n\x1a\n" * 50, ["xml"]),
    "garbage-zip": ("bank.zip", lambda: b"PK\x03\x04" + b"\xff" * 200, ["zip"]),
    # truncated, damaged or hollow workbooks
    "truncated-xlsx": ("bank.xlsx", lambda: good_xlsx()[: len(good_xlsx()) // 2], ["xlsx"]),
    "xlsx-without-sheets": ("bank.xlsx", no_sheets, ["worksheet"]),
    "xlsx-sheet-missing": ("bank.xlsx", lambda: without_member(good_xlsx(), SHEET), ["sheet"]),
    "xlsx-one-empty-sheet": ("bank.xlsx", lambda: xlsx_bytes([]), ["empty"]),
    "xlsx-sheet-cut-short": (
        "bank.xlsx",
        lambda: with_sheet(sheet_xml().replace(b"</sheetData>", b"<row r='9'><c r='A9'")),
        ["xlsx"],
    ),
    "xlsx-bad-shared-string": (
        "bank.xlsx",
        lambda: extra_row("<row r='9'><c r='A9' t='s'><v>9999</v></c></row>"),
        ["xlsx"],
    ),
    "xlsx-bad-number": (
        "bank.xlsx",
        lambda: extra_row("<row r='9'><c r='A9' t='n'><v>abc</v></c></row>"),
        ["xlsx"],
    ),
    "xlsx-bad-cell-reference": (
        "bank.xlsx",
        lambda: extra_row("<row r='9'><c r='ZZZZZZ9'><v>1</v></c></row>"),
        ["xlsx"],
    ),
    "xlsx-encrypted-member": ("bank.xlsx", lambda: patch_headers(good_xlsx(), flags=1), ["xlsx"]),
    "xlsx-holding-a-zip": ("bank.xlsx", lambda: zip_bytes({"bank.zip": good_xlsx()}), ["xlsx"]),
    # zips: nested, encrypted, unknown compression, damaged
    "zip-in-a-zip": (
        "bank.zip",
        lambda: zip_bytes({"inner.zip": zip_bytes({"b.csv": GOOD_CSV})}),
        ["zip"],
    ),
    "zip-encrypted": (
        "bank.zip",
        lambda: patch_headers(zip_bytes({"bank.csv": GOOD_CSV}), flags=1),
        ["encrypted"],
    ),
    "zip-unknown-compression": (
        "bank.zip",
        lambda: patch_headers(zip_bytes({"bank.csv": GOOD_CSV}), method=99),
        ["compression"],
    ),
    "zip-damaged-bank-file": (
        "bank.zip",
        lambda: damage_member(zip_bytes({"bank.csv": GOOD_CSV * 40}), "bank.csv"),
        ["damaged"],
    ),
    "zip-with-a-malformed-bank-file": (
        "bank.zip",
        lambda: zip_bytes({"bank.xlsx": no_sheets()}),
        ["worksheet"],
    ),
    # CSV text: encodings, NUL bytes, ragged rows, oversized cells
    "csv-latin-1": ("bank.csv", lambda: csv_row(stem="Soal é").encode("latin-1"), ["utf-8"]),
    "csv-utf-16": ("bank.csv", lambda: GOOD_CSV.encode("utf-16"), ["utf-16"]),
    "csv-utf-16-without-bom": ("bank.csv", lambda: GOOD_CSV.encode("utf-16-le"), ["utf-16"]),
    "csv-nul-in-a-cell": ("bank.csv", lambda: csv_row(item_id="TWK\x00901").encode(), ["nul"]),
    "csv-xlsx-renamed": ("bank.csv", good_xlsx, ["xlsx"]),
    "csv-ragged-rows": (
        "bank.csv",
        lambda: (HEADER + "TWK901,TWK,2pl\n" + GOOD_ROWS[0] + ",x,y\n").encode(),
        ["no header name"],
    ),
    "csv-10000-char-section": ("bank.csv", lambda: csv_row(section="S" * 10_000).encode(), ["32"]),
    "csv-10000-char-enemy-group": (
        "bank.csv",
        lambda: csv_row(enemy_group="E" * 10_000).encode(),
        ["64"],
    ),
    "csv-10000-char-key": ("bank.csv", lambda: csv_row(key="A" * 10_000).encode(), ["key"]),
    "csv-200000-char-cell": (
        "bank.csv",
        lambda: csv_row(stem='"' + "S" * 200_000 + '"').encode(),
        ["cannot be read"],
    ),
    # JSON of the wrong type
    "json-a-number": ("bank.json", lambda: b"42", ["items"]),
    "json-a-list-of-numbers": ("bank.json", lambda: b"[1, 2, 3]", ["expected an object"]),
    "json-nested-objects": (
        "bank.json",
        lambda: json_bank(section={"code": "TWK"}, stem=["a", "b"]),
        ["expected text"],
    ),
    "json-huge-int": ("bank.json", lambda: json_bank(a=10**400), ["expected a number"]),
    "json-huge-int-score": (
        "bank.json",
        lambda: json_bank(model="gpcm", a=1, b=None, key=None, score_a=10**400, score_b=1),
        ["whole number"],
    ),
    "json-int-beyond-the-digit-limit": (
        "bank.json",
        lambda: json_bank(b=0).replace(b'"b": 0', b'"b": ' + b"9" * 5000),
        ["invalid json"],
    ),
    "json-nan-and-infinity": (
        "bank.json",
        lambda: json_bank(a=float("nan"), b=float("inf")),
        ["expected a number"],
    ),
    "json-nan-as-item-id": ("bank.json", lambda: json_bank(item_id=float("nan")), ["item_id"]),
    "json-nested-too-deep": ("bank.json", lambda: b"[" * 100_000 + b"]" * 100_000, ["json"]),
    "json-lone-surrogate": (
        "bank.json",
        lambda: json_bank().replace(b"Ibu kota", b"Ibu \\ud800kota"),
        ["stem"],
    ),
    "json-nul-in-a-string": (
        "bank.json",
        lambda: json_bank().replace(b'"TWK"', b'"TW\\u0000K"'),
        ["nul"],
    ),
    # QTI
    "qti-not-well-formed": ("item.xml", lambda: item_xml().encode()[:-30], ["well-formed"]),
    "qti-external-entity": (
        "item.xml",
        lambda: b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + item_xml().split("?>", 1)[1].replace("2, 4, 8", "&x;").encode(),
        ["doctype"],
    ),
    "qti-wrong-namespace": (
        "item.xml",
        lambda: item_xml().replace("imsqti_v2p1", "not-qti").encode(),
        ["namespace"],
    ),
    "qti-package-damaged-item": (
        "paket.zip",
        lambda: damage_member(qti_package_item((item_xml() * 20).encode()), "items/tiu401.xml"),
        ["damaged"],
    ),
    "qti-package-encrypted": (
        "paket.zip",
        lambda: patch_headers(qti_package_item(), flags=1),
        ["encrypted"],
    ),
    "qti-package-unknown-compression": (
        "paket.zip",
        lambda: patch_headers(qti_package_item(), method=99),
        ["compression"],
    ),
    "qti-package-item-lies-about-its-size": (
        "paket.zip",
        lambda: lie_about_size(qti_package_item(), "items/tiu401.xml", 100),
        ["damaged"],
    ),
}
BANK_CASES = {k: (n, functools.cache(f), w) for k, (n, f, w) in BANK_CASES.items()}
# The words of the cases on the Indonesian page; the others (file types, encodings,
# column names, numbers) read the same in both languages.
IN_INDONESIAN = {
    "empty": "kosong",
    "encrypted": "terenkripsi",
    "compression": "kompresi",
    "damaged": "rusak",
    "worksheet": "tidak punya worksheet",
    "no header name": "kolom tanpa nama",
    "cannot be read": "tidak terbaca",
    "expected an object": "diharapkan objek",
    "expected text": "diharapkan teks",
    "expected a number": "diharapkan angka",
    "whole number": "bilangan bulat",
    "invalid json": "json tidak sah",
    "well-formed": "tidak well-formed",
    "column": "kolom",
}


def in_indonesian(words: list[str]) -> list[str]:
    return [IN_INDONESIAN.get(w, w) for w in words]


@pytest.mark.parametrize("case", BANK_CASES)
def test_a_malformed_bank_upload_gets_the_problem_list(app, admin, tmp_path, case):
    filename, data, words = BANK_CASES[case]
    refused(upload(admin, data(), filename), filename, in_indonesian(words))
    nothing_imported(app, tmp_path)


@pytest.mark.parametrize("case", BANK_CASES)
def test_load_bank_exits_2_with_the_problem_list(app, runner, tmp_path, case):
    filename, data, words = BANK_CASES[case]
    path = tmp_path / filename
    path.write_bytes(data())
    result = runner.invoke(args=["load-bank", str(path), "--name", "Bank Uji"])
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert filename in result.stderr
    assert all(w.lower() in result.stderr.lower() for w in words), result.stderr
    nothing_imported(app, tmp_path)


def test_the_real_command_line_shows_the_problem_and_no_traceback(tmp_path):
    """load-bank as an administrator runs it: outside pytest, whose log capture hides
    what the app's own log handler would print on the terminal."""
    env = {
        **os.environ,
        "CAT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PYTHONPATH": str(ROOT),
    }

    def cat_server(*args):
        return subprocess.run(
            [sys.executable, "-c", "from cat_server.cli import main; main()", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cat_server("db", "upgrade").returncode == 0
    path = tmp_path / "bank.xlsx"
    path.write_bytes(BANK_CASES["xlsx-bad-number"][1]())
    result = cat_server("load-bank", str(path), "--name", "Bank Uji")
    assert result.returncode == 2, result.stderr
    assert "bank.xlsx: this is not a readable XLSX workbook" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def test_a_csv_with_a_bom_imports(app, admin):
    assert upload(admin, ("\ufeff" + GOOD_CSV).encode(), "bank.csv").status_code == 302


def test_a_stale_xlsx_dimension_loses_no_row(app, admin):
    """A workbook saying it spans A1:I2 while it holds three items: all three are read."""
    rows = [HEADER.strip().split(",")] + [r.split(",") for r in GOOD_ROWS]
    data = xlsx_bytes([[c if c != "" else None for c in row] for row in rows])
    xml = zipfile.ZipFile(io.BytesIO(data)).read(SHEET)
    data = rewrite_member(
        data, SHEET, re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:I2"', xml)
    )
    assert upload(admin, data, "bank.xlsx").status_code == 302
    with app.app_context():
        assert db.session.query(Item).count() == len(GOOD_ROWS)


@pytest.mark.timeout(30)
def test_an_xlsx_claiming_the_whole_sheet_is_refused_fast(app, admin, tmp_path):
    """A tiny workbook whose dimension and last cell say XFD1048576 (17 billion cells)."""
    xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', sheet_xml())
    xml = xml.replace(
        b"</sheetData>",
        b"<row r='1048576'><c r='XFD1048576' t='inlineStr'><is><t>z</t></is></c></row></sheetData>",
    )
    started = time.perf_counter()
    response = upload(admin, with_sheet(xml), "bank.xlsx")
    assert time.perf_counter() - started < 5
    refused(response, "bank.xlsx", in_indonesian(["column"]))
    nothing_imported(app, tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name", "N" * 300, ["200"]),  # the bank's name
        ("filename", "b" * 400 + ".csv", None),  # accepted: the stored source name is cut
    ],
    ids=["300-char-bank-name", "400-char-file-name"],
)
def test_an_overlong_bank_name_or_file_name_is_no_500(app, admin, tmp_path, field, value, words):
    filename = value if field == "filename" else "bank.csv"
    name = value if field == "name" else "Bank Uji"
    response = upload(admin, GOOD_CSV.encode(), filename, name=name)
    if words is None:
        assert response.status_code == 302
    else:
        refused(response, filename, words)
        nothing_imported(app, tmp_path)


def test_load_bank_refuses_an_overlong_name(app, runner, tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(GOOD_CSV)
    result = runner.invoke(args=["load-bank", str(path), "--name", "N" * 300])
    assert result.exit_code == 2 and "200" in result.stderr, result.exc_info
    nothing_imported(app, tmp_path)


# ----------------------------------------------------------- candidates


CANDIDATES_HEADER = "registration_no,name,birth_date,sitting,seat\n"


def candidates(name="Budi Santoso", registration_no="2026100001") -> str:
    return CANDIDATES_HEADER + f"{registration_no},{name},1995-04-12,Sesi Uji,PC-09\n"


CANDIDATE_CASES = {
    "empty": (lambda: b"", ["empty"]),
    "binary-garbage": (lambda: bytes(range(128, 256)) * 8, ["utf-8"]),
    "latin-1": (lambda: candidates("Budi Santoso é").encode("latin-1"), ["utf-8"]),
    "utf-16": (lambda: candidates().encode("utf-16"), ["utf-16"]),
    "utf-16-without-bom": (lambda: candidates().encode("utf-16-le"), ["utf-16"]),
    "nul-in-a-name": (lambda: candidates("Budi\x00Santoso").encode(), ["nul"]),
    "ragged-rows": (lambda: (CANDIDATES_HEADER + "2026100001,Budi\n").encode(), ["sel untuk"]),
    "10000-char-name": (lambda: candidates("B" * 10_000).encode(), ["200"]),
    "200000-char-cell": (
        lambda: candidates('"' + "B" * 200_000 + '"').encode(),
        ["tidak terbaca"],
    ),
    "unterminated-quote": (lambda: candidates('"Budi').encode(), ["2 sel untuk 5 kolom"]),
    "an-xlsx-named-csv": (good_xlsx, ["xlsx"]),
}


@pytest.fixture
def sitting(app):
    with app.app_context():
        return make_sitting(name="Sesi Uji", n_candidates=1)


def no_new_candidates(app):
    with app.app_context():
        assert db.session.query(Candidate).count() == 1  # make_sitting's own
        assert db.session.query(Seat).count() == 1


@pytest.mark.parametrize("case", CANDIDATE_CASES)
def test_a_malformed_candidates_file_gets_the_problem_list(app, admin, sitting, case):
    data, words = CANDIDATE_CASES[case]
    response = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(data()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    refused(response, "peserta.csv", in_indonesian(words))
    no_new_candidates(app)


@pytest.mark.parametrize("case", CANDIDATE_CASES)
def test_import_candidates_exits_2_with_the_problem_list(app, runner, sitting, tmp_path, case):
    data, words = CANDIDATE_CASES[case]
    path = tmp_path / "peserta.csv"
    path.write_bytes(data())
    result = runner.invoke(args=["import-candidates", str(path)])
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "peserta.csv" in result.stderr
    assert all(w.lower() in result.stderr.lower() for w in words), result.stderr
    no_new_candidates(app)


def test_a_candidates_file_with_a_bom_imports(app, admin, sitting):
    response = admin.post(
        "/admin/candidates/import",
        data={"file": (io.BytesIO(("\ufeff" + candidates()).encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]


# ----------------------------------------------------------- calibration responses


RESPONSES_HEADER = "person_id,TWK001,TWK002\n"
RESPONSE_CASES = {
    "empty": (lambda: b"", ["empty"]),
    "binary-garbage": (lambda: bytes(range(128, 256)) * 8, ["utf-8"]),
    "utf-16": (lambda: (RESPONSES_HEADER + "P1,1,0\nP2,0,1\n").encode("utf-16"), ["utf-8"]),
    "nul-in-a-cell": (lambda: (RESPONSES_HEADER + "P1,1,0\nP2,0,\x001\n").encode(), ["number"]),
    "ragged-rows": (lambda: (RESPONSES_HEADER + "P1,1\nP2,0,1,1\n").encode(), ["cells for"]),
    "blank-first-line": (
        lambda: ("\n" + RESPONSES_HEADER + "P1,1,0\nP2,0,1\n").encode(),
        ["header"],
    ),
    "10000-char-cell": (
        lambda: (RESPONSES_HEADER + "P1,1,0\nP2," + "1" * 10_000 + ",1\n").encode(),
        ["number"],
    ),
    "200000-char-cell": (
        lambda: (RESPONSES_HEADER + 'P1,"' + "1" * 200_000 + '",0\nP2,0,1\n').encode(),
        ["cannot be read"],
    ),
    "an-xlsx-named-csv": (good_xlsx, ["utf-8"]),
}


# the words of the cases on the (Indonesian) calibration page; the CLI's are the English
RESPONSES_IN_INDONESIAN = {
    "empty": "kosong",
    "number": "angka",
    "cells for": "sel untuk",
    "header": "judul",
    "cannot be read": "tidak terbaca",
}


def proposals(app) -> set[str]:
    """The saved calibration proposals (the instance folder outlives a test)."""
    folder = Path(app.instance_path) / "calibration"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_a_malformed_responses_file_gets_the_problem_list(app, admin, sitting, case):
    data, words = RESPONSE_CASES[case]
    before = proposals(app)
    response = admin.post(
        "/admin/calibration",
        data={"bank_id": "1", "model": "2pl", "file": (io.BytesIO(data()), "jawaban.csv")},
        content_type="multipart/form-data",
    )
    refused(response, "jawaban.csv", [RESPONSES_IN_INDONESIAN.get(w, w) for w in words])
    assert proposals(app) == before


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_calibrate_bank_exits_2_with_the_problem_list(app, runner, sitting, tmp_path, case):
    data, words = RESPONSE_CASES[case]
    path = tmp_path / "jawaban.csv"
    path.write_bytes(data())
    before = proposals(app)
    result = runner.invoke(args=["calibrate-bank", "1", "--responses", str(path)])
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "jawaban.csv" in result.stderr
    assert all(w.lower() in result.stderr.lower() for w in words), result.stderr
    assert proposals(app) == before


# ----------------------------------------------------------- any bytes at all


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["bank.csv", "bank.json", "bank.xlsx", "item.xml", "paket.zip"]),
    st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(["item_id", "a", "stem", "x"]), inner, max_size=4),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    ),
)
def test_read_bank_answers_any_bytes_with_items_or_the_problem_list(filename, data):
    try:
        read_bank(io.BytesIO(data), filename=filename)
    except BankFormatError as error:
        assert str(error).startswith(filename)
