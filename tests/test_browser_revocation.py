"""Chromium against a real gunicorn: a login the server ended leaves the workstation (issue 16).

The proctor presses "Akhiri login" on the console; the candidate's exam page goes
to the login page, which says why in Indonesian and English; the candidate logs
in again and the exam goes on where it stood. After a seat move the old
workstation's page does the same and a reload does not bring it back.
"""

from __future__ import annotations

import re

import pytest

from cat_server.extensions import db
from cat_server.models import Candidate
from tests import live
from tests.conftest import make_sitting, make_user
from tests.live import LiveServer
from tests.test_browser import browser, candidate_login  # noqa: F401  (the shared Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1366, "height": 768}
ENDED = "Login Anda telah diakhiri"
ENDED_EN = "Your login was ended"


@pytest.fixture
def server(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_sitting(n_items=4, n_candidates=2, proctor=make_user())
    server = LiveServer(db_url, tmp_path / "server.log").start()
    server.sitting_id = sitting_id
    yield server
    server.stop()


def candidate_id(app, registration_no="20260001") -> int:
    with app.app_context():
        return db.session.execute(
            db.select(Candidate.id).where(Candidate.registration_no == registration_no)
        ).scalar_one()


def answer_first_item(page):
    from playwright.sync_api import expect

    page.get_by_test_id("option-A").click()
    page.get_by_test_id("submit-answer").click()
    expect(page.get_by_test_id("item-number")).to_contain_text("2")


def test_the_proctor_ends_a_login_and_the_workstation_goes_to_the_login_page(
    app,
    browser,  # noqa: F811
    server,
):
    from playwright.sync_api import expect

    proctor = browser.new_page(viewport={"width": 1920, "height": 1080})
    proctor.goto(f"{server.url}/login")
    proctor.fill("input[name=username]", "pengawas")
    proctor.fill("input[name=password]", "rahasia-123")
    proctor.click("button[type=submit]")
    proctor.goto(f"{server.url}/proctor/sittings/{server.sitting_id}")

    page = browser.new_context(viewport=VIEWPORT).new_page()
    candidate_login(page, server, "20260001")
    assert live.proctor_call(server.url, server.sitting_id, "start_sitting") == {"ok": True}
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    answer_first_item(page)

    proctor.get_by_test_id("seat-PC-01").click()
    proctor.get_by_test_id("end-session").click()
    proctor.get_by_test_id("action-reason").fill("Peserta pindah ke komputer cadangan")
    proctor.get_by_test_id("action-submit").click()

    expect(page).to_have_url(re.compile(rf"/exam/{server.sitting_id}/$"))
    expect(page.locator(".flash")).to_contain_text(ENDED)
    expect(page.locator(".flash")).to_contain_text(ENDED_EN)
    page.goto(f"{server.url}/exam/{server.sitting_id}/take")  # the old cookie opens nothing
    expect(page).to_have_url(re.compile(rf"/exam/{server.sitting_id}/$"))

    candidate_login_again(page, server)
    expect(page.get_by_test_id("item-number")).to_contain_text("2")  # where it stood
    page.context.close()
    proctor.close()


def candidate_login_again(page, server):
    from playwright.sync_api import expect

    page.fill("input[name=registration_no]", "20260001")
    page.fill("input[name=pin]", "123456")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")


def test_after_a_seat_move_the_old_page_leaves_and_stays_out(app, browser, server):  # noqa: F811
    from playwright.sync_api import expect

    old = browser.new_context(viewport=VIEWPORT).new_page()
    candidate_login(old, server, "20260001")
    assert live.proctor_call(server.url, server.sitting_id, "start_sitting") == {"ok": True}
    expect(old.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    ack = live.proctor_call(
        server.url,
        server.sitting_id,
        "move_seat",
        candidate=candidate_id(app),
        seat="PC-09",  # a spare workstation: PC-02 has its own candidate
        add_seat=True,
        reason="Monitor PC-01 mati",
    )
    assert ack == {"ok": True}, ack
    expect(old).to_have_url(re.compile(rf"/exam/{server.sitting_id}/$"))
    expect(old.locator(".flash")).to_contain_text(ENDED)
    old.reload()
    expect(old).to_have_url(re.compile(rf"/exam/{server.sitting_id}/$"))

    new = browser.new_context(viewport=VIEWPORT).new_page()
    new.goto(f"{server.url}/exam/{server.sitting_id}/")
    candidate_login_again(new, server)
    expect(new.get_by_test_id("blocked")).to_be_hidden()
    old.context.close()
    new.context.close()
