"""Headless Chromium against a real gunicorn: the administrator's path, with screenshots."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from cat_server.itembank.formats import DEMO_BANK, read_bank
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture
def server(app, db_url, tmp_path):
    with app.app_context():
        make_user("admin", "admin", "admin-pass-1")
        make_user("pengawas", "proctor")
    live = LiveServer(db_url, tmp_path / "server.log", MEDIA_DIR=str(tmp_path / "media")).start()
    yield live
    live.stop()


def test_admin_uploads_fixes_schedules_and_exports(server, db_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    shoot = db_url.startswith("sqlite")  # one set of pictures is enough
    lines = DEMO_BANK.read_text(encoding="utf-8").splitlines()
    good = tmp_path / "bank_skd.csv"
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_lines = list(lines)
    cells = next(csv.reader([bad_lines[5]]))
    cells[17] = "F"  # row 6: a key naming no option
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    bad_lines[5] = out.getvalue()
    bad = tmp_path / "bank_skd_bad.csv"
    bad.write_text("\n".join(bad_lines) + "\n", encoding="utf-8")
    candidates = tmp_path / "peserta.csv"
    candidates.write_text(
        "registration_no,name,birth_date,sitting,seat\n"
        "2026100001,Budi Santoso,1995-04-12,Sesi Pagi,PC-01\n"
        "2026100002,Siti Rahmawati,1997-11-03,Sesi Pagi,PC-02\n"
        "2026100003,Agus Saputra,,Sesi Pagi,PC-03\n",
        encoding="utf-8",
    )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        page.goto(f"{server.url}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "admin-pass-1")
        page.click("button[type=submit]")
        page.goto(f"{server.url}/admin/")
        expect(page.locator("h1")).to_contain_text("Administrasi")

        page.click("text=Bank soal")
        page.fill("#name", "Bank SKD 2026")
        page.set_input_files("#file", str(bad))
        page.click("form.admin-form button[type=submit]")
        table = page.locator("table.problems-table")
        expect(table).to_be_visible()
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table.locator("tbody tr td").nth(1)).to_have_text("baris 6")
        expect(table.locator("tbody tr td").nth(2)).to_have_text("key")
        expect(table.locator("tbody tr td").nth(3)).to_have_text(  # the page's language
            "diharapkan salah satu A..E yang menunjuk pilihan yang terisi, ditemukan 'F'"
        )
        expect(page.locator("#problems-title")).to_contain_text("tidak ada yang diimpor")
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-bank-errors.png"), full_page=True)

        page.fill("#name", "Bank SKD 2026")
        page.set_input_files("#file", str(good))
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Bank SKD 2026")
        expect(page.locator(".flash")).to_contain_text(f"{len(read_bank(DEMO_BANK))} soal")
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-bank-items.png"))

        page.click("text=Ujian")
        page.fill("#exam-name", "Simulasi SKD")
        page.fill("#duration_min", "30")
        page.fill(
            "#sections", "TWK, Tes Wawasan Kebangsaan, 5, 15\nTIU, Tes Intelegensia Umum, 5, 15"
        )
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("table").first).to_contain_text("Simulasi SKD")

        page.click("text=Sesi")
        page.select_option("#exam_id", label="Simulasi SKD")
        page.fill("#sitting-name", "Sesi Pagi")
        page.fill("#scheduled_at", "2026-12-01T08:00")
        page.fill("#room", "Ruang Ujian 2")
        page.check("input[name=proctors]")
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Sesi Pagi")
        expect(page.locator(".facts")).to_contain_text("2026-12-01 08:00 WIB")  # as typed
        expect(page.locator(".facts")).to_contain_text("Ruang Ujian 2")

        page.click("nav >> text=Sesi")
        page.set_input_files("#candidates-file", str(candidates))
        page.click("form[action$='/candidates/import'] button[type=submit]")
        expect(page.locator(".slip")).to_have_count(3)
        expect(page.locator(".slip").first).to_contain_text("2026-12-01 08:00 WIB")
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-pin-slips.png"))

        page.click("nav >> text=Sesi")
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-sittings.png"), full_page=True)
        page.click("text=Nilai")
        page.select_option("#sitting", index=1)
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-scores.png"))
        with page.expect_download() as info:
            page.click("button:text('CSV')")
        download = info.value
        assert download.suggested_filename.startswith("scores-sitting-")
        rows = list(
            csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig")))
        )
        assert rows == []  # nobody has sat the exam yet: a header, no rows
        browser.close()
