"""Headless Chromium in another zone than the centre's: the pages still read WIB.

The browser runs as if in New York (UTC-5): the sittings page, the PIN slips and
the hall board's clock show the centre's time, named, never the screen's own.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from cat_server.extensions import db
from cat_server.models import Sitting
from tests.conftest import make_sitting, make_user
from tests.live import LiveServer
from tests.test_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(app, db_url, tmp_path):
    """A sitting at 08:00 WIB (01:00 UTC) on 2026-12-01 with two candidates and a board."""
    with app.app_context():
        make_user("admin", "admin", "admin-pass-1")
        sitting_id = make_sitting(n_candidates=2, name="Sesi Pagi", proctor=make_user())
        sitting = db.session.get(Sitting, sitting_id)
        sitting.scheduled_at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
        sitting.exam.board_enabled = True
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


def test_sittings_and_pin_slips_read_wib_in_a_browser_set_to_new_york(browser, server, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1366, "height": 768}, timezone_id="America/New_York")
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-1")
    page.click("button[type=submit]")
    page.goto(f"{server.url}/admin/sittings")
    row = page.locator("table.table tbody tr").filter(has_text="Sesi Pagi")
    expect(row).to_contain_text("2026-12-01 08:00 WIB")
    expect(page.locator("label[for=scheduled_at]")).to_contain_text("(WIB)")
    page.screenshot(path=str(tmp_path / "sittings.png"))

    page.goto(f"{server.url}/admin/sittings/{server.sitting_id}")
    expect(page.locator(".facts")).to_contain_text("2026-12-01 08:00 WIB")
    form = page.get_by_test_id("sitting-pins")
    form.locator("input[name=reason]").fill("slip dicetak ulang")
    form.locator("button[type=submit]").click()
    expect(page.locator(".slip")).to_have_count(2)
    for slip in page.locator(".slip").all():
        expect(slip).to_contain_text("2026-12-01 08:00 WIB")
        expect(slip).not_to_contain_text("UTC")
    page.screenshot(path=str(tmp_path / "slips.png"))
    page.close()


def test_the_board_clock_is_the_centres_not_the_screens(browser, server):
    page = browser.new_page(
        viewport={"width": 1920, "height": 1080}, timezone_id="America/New_York"
    )
    page.goto(f"{server.url}/board/{server.sitting_id}")
    # not wait_for_function: its polling evals a string, which the page's CSP refuses
    expect(page.locator("#board-clock")).not_to_have_text("")
    text = page.locator("#board-clock").inner_text()
    shown = re.fullmatch(r"(\d\d):(\d\d):(\d\d) WIB", text)
    assert shown, text
    wib = datetime.now(UTC) + timedelta(hours=7)
    seconds = int(shown[1]) * 3600 + int(shown[2]) * 60 + int(shown[3])
    now = wib.hour * 3600 + wib.minute * 60 + wib.second
    assert min(abs(now - seconds), 86400 - abs(now - seconds)) <= 5, (text, wib)
    page.close()
