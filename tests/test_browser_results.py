"""Headless Chromium: the admin's bundles page and the proctor's list through a WAN outage.

A centre with two ended sittings (one acknowledged by the national office, one
pending while the WAN is down) is served by a real gunicorn; an admin reads the
statuses in WIB, downloads a bundle with the page's button and the file
verifies; the proctor's list shows the same. ``CAT_SCREENSHOTS=1`` also writes
docs/screenshots/admin-results.png and proctor-results-status.png.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from cat_server.extensions import db
from cat_server.models import Sitting, utcnow
from cat_server.results import bundle as results
from cat_server.results import forward
from tests.a11y import assert_accessible
from tests.live import LiveServer
from tests.test_browser import ARGS, CHROMIUM
from tests.test_chain import TIU, TKP, TWK, sit_mixed_exam
from tests.test_results_bundles import MARKED, cli, end_sitting, instance
from tests.test_sections import build_sitting

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("quick_hashes")]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def two_ended_sittings(app) -> tuple[int, int]:
    """Sitting 1 acknowledged, sitting 2 pending after three tries (the WAN down)."""
    from cat_server import security
    from cat_server.models import Candidate, Seat
    from tests.conftest import make_user

    with app.app_context():
        make_user("kepala", role="admin")
        first = build_sitting(MARKED, TWK + TIU + TKP, n_candidates=1)
        one = db.session.get(Sitting, first)
        one.name = "Sesi 1 (pagi)"
        two = Sitting(exam_id=one.exam_id, name="Sesi 2 (siang)", room="R1", status="started")
        two.started_at = utcnow()
        db.session.add(two)
        db.session.flush()
        seat = Seat(sitting_id=two.id, label="PC-01", position=1)
        db.session.add(seat)
        db.session.flush()
        db.session.add(
            Candidate(
                sitting_id=two.id,
                registration_no="R1",
                name="Peserta 9",
                pin_hash=security.hash_pin("123456"),
                seat_id=seat.id,
            )
        )
        db.session.commit()
        second = two.id
    for sitting_id, device in ((first, "pc-1"), (second, "pc-2")):
        sit_mixed_exam(app, sitting_id, "R1", device)
        end_sitting(app, sitting_id)
    with app.app_context():
        now = utcnow()
        done = forward.bundle_for(first)
        done.status, done.n_tries, done.sent_at, done.acknowledged_at = "acknowledged", 1, now, now
        waiting = forward.bundle_for(second)
        waiting.n_tries, waiting.last_try_at = 3, now
        waiting.next_try_at = now + timedelta(seconds=120)
        waiting.last_error = "national server not reached: ConnectionError"
        db.session.commit()
    return first, second


def test_the_admin_reads_each_bundles_status_and_downloads_one_that_verifies(
    browser, db_url, request, tmp_path
):
    from playwright.sync_api import expect

    url = (
        f"sqlite:///{tmp_path / 'centre.db'}"
        if db_url.startswith("sqlite")
        else request.getfixturevalue("new_pg_database")()
    )
    chain = secrets.token_hex(32)
    app = instance(url, tmp_path, "UPT-JAKARTA", CHAIN_KEY=chain)
    assert cli(app, "keys", "create").exit_code == 0
    first, second = two_ended_sittings(app)
    server = LiveServer(
        url,
        tmp_path / "centre.log",
        CHAIN_KEY=chain,
        CENTRE_ID="UPT-JAKARTA",
        CENTRE_KEY_FILE=tmp_path / "UPT-JAKARTA" / "keys" / "centre-ed25519.pem",
        NATIONAL_URL="https://hasil.bkn.example",
        BACKGROUND_TASKS="false",  # the statuses above stay as they are while we look
    ).start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 720}, accept_downloads=True)
        page.goto(f"{server.url}/login")
        page.fill("input[name=username]", "kepala")
        page.fill("input[name=password]", "rahasia-123")
        page.click("button[type=submit]")
        page.goto(f"{server.url}/admin/results/")
        pending = page.locator(f"tr[data-sitting='{second}']")
        expect(pending.locator(".delivery-status")).to_contain_text("Menunggu kirim")
        expect(pending).to_contain_text("national server not reached")
        expect(pending).to_contain_text("WIB")
        done = page.locator(f"tr[data-sitting='{first}']")
        expect(done.locator(".delivery-status")).to_contain_text("Diterima")
        assert_accessible(page, "admin results page")
        if os.environ.get("CAT_SCREENSHOTS"):
            page.screenshot(path=str(SHOTS / "admin-results.png"), full_page=True)

        with page.expect_download() as download:
            done.get_by_role("button", name="Unduh bundel").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == f"hasil-UPT-JAKARTA-sesi-{first}.json"
        checked = results.verify(saved.read_bytes(), saved.name)
        assert checked.ok, checked.problems
        assert checked.body["sitting"]["id"] == first

        page.goto(f"{server.url}/proctor/")
        statuses = page.get_by_test_id("results-delivery")
        expect(statuses.nth(0)).to_have_attribute("data-status", "acknowledged")
        expect(statuses.nth(1)).to_have_attribute("data-status", "pending")
        expect(statuses.nth(1)).to_contain_text("WIB")
        assert_accessible(page, "proctor list with results statuses")
        if os.environ.get("CAT_SCREENSHOTS"):
            page.screenshot(path=str(SHOTS / "proctor-results-status.png"), full_page=True)
        page.goto(f"{server.url}/proctor/sittings/{second}")
        expect(page.get_by_test_id("results-delivery")).to_have_attribute("data-status", "pending")
    finally:
        server.stop()
