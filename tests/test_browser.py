"""Headless Chromium against a real gunicorn: two candidates finish, the proctor grid shows it."""

import os

import pytest

from tests.conftest import PIN, make_sitting, make_user
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


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
    with app.app_context():
        sitting_id = make_sitting(n_items=4, n_candidates=3, proctor=make_user())
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


def candidate_login(page, server, registration_no):
    page.goto(f"{server.url}/exam/{server.sitting_id}/")
    page.fill("input[name=registration_no]", registration_no)
    page.fill("input[name=pin]", PIN)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=status-screen][data-status=waiting]")


def test_two_candidates_finish_and_the_proctor_sees_it_live(browser, server):
    from playwright.sync_api import expect

    proctor = browser.new_page(viewport={"width": 1920, "height": 1080})
    proctor.goto(f"{server.url}/login")
    proctor.fill("input[name=username]", "pengawas")
    proctor.fill("input[name=password]", "rahasia-123")
    proctor.click("button[type=submit]")
    proctor.goto(f"{server.url}/proctor/sittings/{server.sitting_id}")
    expect(proctor.get_by_test_id("seat-PC-01")).to_have_attribute("data-status", "absent")

    pages = []
    for registration_no in ("20260001", "20260002"):
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        candidate_login(page, server, registration_no)
        pages.append(page)
    expect(proctor.get_by_test_id("seat-PC-01")).to_have_attribute("data-status", "waiting")
    expect(proctor.get_by_test_id("seat-PC-03")).to_have_attribute("data-status", "absent")

    proctor.get_by_test_id("start-button").click()
    proctor.get_by_test_id("action-submit").click()  # the page's own dialog
    for page in pages:
        expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
        expect(page.get_by_test_id("countdown")).to_have_text(
            __import__("re").compile(r"^(09|10):\d\d$")
        )
    expect(proctor.get_by_test_id("seat-PC-01")).to_have_attribute("data-status", "answering")

    for n in range(1, 5):
        for page in pages:
            # the exact item: "Soal 3 dari 4" also contains "4" while answer 3 is in flight
            expect(page.get_by_test_id("progress")).to_have_text(
                __import__("re").compile(rf"^Soal {n} dari ")
            )
            page.keyboard.press("A")
            page.get_by_test_id("submit-answer").click()
    for page in pages:
        expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
        expect(page.get_by_test_id("result-total")).to_be_visible()
    for seat in ("PC-01", "PC-02"):
        expect(proctor.get_by_test_id(f"seat-{seat}")).to_have_attribute("data-status", "finished")
    expect(proctor.get_by_test_id("count-finished")).to_contain_text("2")
