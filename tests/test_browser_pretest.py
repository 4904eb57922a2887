"""Headless Chromium: an administrator builds an adaptive exam that seeds 3 pretest items on
the builder page, candidates sit it (Socket.IO, in-process, on the same database), and the
administrator calibrates the pretest items from the collected answers, reviews and accepts
them on the calibration pages. Screenshots of the adaptive settings and the review page."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cat_server.extensions import db
from cat_server.irt.models import simulate_responses
from cat_server.models import Exam, Item
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_admin_browser import SHOTS
from tests.test_browser import ARGS, CHROMIUM
from tests.test_pretest_acceptance import (
    ADAPTIVE_FORM,
    ADMIN,
    add_sitting,
    bank_csv,
    pool_and_truth,
    sit,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_CANDIDATES = 60


@pytest.fixture
def server(app, db_url, tmp_path):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
    live = LiveServer(db_url, tmp_path / "server.log").start()
    yield live
    live.stop()


def test_an_admin_seeds_pretest_items_and_activates_them_from_the_collected_answers(
    server, app, db_url, tmp_path, quick_hashes
):
    from playwright.sync_api import expect, sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    shoot = db_url.startswith("sqlite")
    data, truth = bank_csv()
    bank_file = tmp_path / "bank-cat.csv"
    bank_file.write_bytes(data)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{server.url}/login")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("button[type=submit]")

        page.goto(f"{server.url}/admin/banks")
        page.fill("#name", "Bank CAT")
        page.set_input_files("#file", str(bank_file))
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Bank CAT")

        page.goto(f"{server.url}/admin/exams/build")
        page.fill("#name", ADAPTIVE_FORM["name"])
        page.fill("#total_minutes", ADAPTIVE_FORM["total_minutes"])
        for field, value in ADAPTIVE_FORM.items():
            if not field.startswith("s1-"):
                continue
            selector = f"#{field}"
            if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
                page.select_option(selector, value)
            else:
                page.fill(selector, value)
        page.click("text=Periksa dan simpan ujian")
        expect(page.locator("table").first).to_contain_text(ADAPTIVE_FORM["name"])
        page.click("text=Ubah")
        expect(page.locator("#s1-pretest_items")).to_have_value("3")
        expect(page.locator("#s1-content")).to_have_value("TWK: 0.5, TIU: 0.5")
        if shoot:  # the adaptive settings of the section, with the pretest count
            page.evaluate(
                "document.querySelector('#s1-start_theta').closest('fieldset').scrollIntoView()"
            )
            page.screenshot(path=str(SHOTS / "admin-exam-builder-adaptive.png"))

        with app.app_context():
            exam_id = db.session.execute(db.select(Exam.id)).scalar_one()
        pool, true_items, _codes = pool_and_truth(app, exam_id, truth)
        theta = np.random.default_rng(8).normal(size=N_CANDIDATES)
        answers = simulate_responses(theta, true_items, np.random.default_rng(9))
        sit(app, add_sitting(app, exam_id, N_CANDIDATES, "S"), N_CANDIDATES, "S", answers, pool)

        page.goto(f"{server.url}/admin/calibration")
        expect(page.locator("#cal-bank")).to_contain_text("6 soal pretest")
        page.select_option("#cal-model", "2pl")
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Tinjau kalibrasi")
        expect(page.locator("tbody tr")).to_have_count(6)
        expect(page.locator("body")).to_contain_text(f"{N_CANDIDATES} peserta")
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-calibration-review.png"), full_page=True)
        page.fill("input[name=reason]", "kalibrasi dari sesi uji coba")
        page.click("text=Terima dan aktifkan yang dipilih")
        expect(page.locator("body")).to_contain_text("6 soal diaktifkan")
        browser.close()
    with app.app_context():
        statuses = db.session.execute(
            db.select(Item.status).where(Item.code.like("UJI%"))
        ).scalars()
        assert set(statuses) == {"active"}
