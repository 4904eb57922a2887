"""Headless Chromium against a real gunicorn, issue 19's outsider walk of the console and the
board (and issue 18's late login): a help call in the incident report, a late candidate on the
tile, the list, the panel and the report, the board ranked by score and saying when the sitting
has ended, and the seat panel beside, never over, the seats; at 1366x768 and 1920x1080.

``CAT_SCREENSHOTS=1`` also writes docs/screenshots/proctor-late-1366x768.png,
proctor-report-1366x768.png, proctor-panel-list-1366x768.png and board-ended-1366x768.png.
"""

import os
import re
from datetime import timedelta

import pytest

from cat_server.exam import attempts, presence
from cat_server.extensions import db
from cat_server.localtime import local_clock
from cat_server.models import Attempt, AuditEvent, Candidate, Exam, Sitting
from tests.conftest import PIN
from tests.live import proctor_call
from tests.test_browser_console import SIZES, small_room, start  # noqa: F401 (fixture)
from tests.test_browser_proctor import SHOTS, browser, console  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def shoot(page, name, size):
    if os.environ.get("CAT_SCREENSHOTS") and size == (1366, 768):
        page.screenshot(path=str(SHOTS / name))


def audit_at(server, action):
    """The centre's clock (HH:MM:SS) at each audit row of ``action``."""
    with server.app.app_context():
        return [
            local_clock(at)
            for at in db.session.execute(
                db.select(AuditEvent.at).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        ]


@pytest.mark.parametrize("size", SIZES)
def test_the_incident_report_has_a_row_for_each_help_call_with_who_answered_and_when(
    browser,  # noqa: F811
    small_room,  # noqa: F811
    size,
):
    from playwright.sync_api import expect

    server = small_room
    start(server)
    with server.app.app_context():
        presence.call_proctor(server.attempts["20260001"])
    candidate_id = db_candidate(server, "20260001")
    ack = proctor_call(
        server.url, server.sitting_id, "acknowledge", candidate=candidate_id, flag="help"
    )
    assert ack["ok"], ack
    with server.app.app_context():
        presence.call_proctor(server.attempts["20260002"])  # still waiting when printed
    called_1, called_2 = audit_at(server, "help_requested")
    (answered,) = audit_at(server, "help_acknowledged")
    page = console(browser, server, *size)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report")
    calls = page.get_by_test_id("report-table").locator("tr[data-kind=help]")
    expect(calls).to_have_count(2)  # one row a call, its answer in it: not a row of its own
    first, second = calls.nth(0).locator("td"), calls.nth(1).locator("td")
    expect(first.nth(0)).to_have_text(called_1)  # when, in WIB (the column says)
    expect(first.nth(2)).to_have_text("Peserta minta bantuan pengawas")
    expect(first.nth(4)).to_have_text("PC-01")
    expect(first.nth(5)).to_contain_text("20260001")
    expect(first.nth(7)).to_have_text(
        re.compile(rf"^didatangi pengawas pukul {answered} WIB \(\d+ dtk setelah dipanggil\)$")
    )
    expect(second.nth(0)).to_have_text(called_2)
    expect(second.nth(4)).to_have_text("PC-02")
    expect(second.nth(7)).to_have_text("belum didatangi")
    shoot(page, "proctor-report-1366x768.png", size)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report?lang=en")
    expect(calls.nth(0).locator("td").nth(2)).to_have_text("Candidate called a proctor")
    expect(calls.nth(0).locator("td").nth(7)).to_contain_text(
        f"answered by pengawas at {answered} WIB"
    )
    expect(calls.nth(1).locator("td").nth(7)).to_have_text("not answered yet")
    csv = page.request.get(f"{server.url}/proctor/sittings/{server.sitting_id}/report.csv").text()
    rows = [line for line in csv.splitlines() if ",help call," in line]
    assert len(rows) == 2 and "answered_by=pengawas" in rows[0], csv
    assert re.search(r"answered_at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*\+07:00", rows[0]), rows[0]


def db_candidate(server, registration_no):
    with server.app.app_context():
        return db.session.execute(
            db.select(Candidate.id).where(Candidate.registration_no == registration_no)
        ).scalar_one()


@pytest.mark.parametrize("size", SIZES)
def test_the_proctor_sees_who_came_late_and_the_time_they_got(browser, small_room, size):  # noqa: F811
    """Issue 18: an exam that gives a late login only what is left of the sitting; the sitting
    started 12 minutes ago with 30 minutes; PC-03 logs in now and gets 18."""
    from playwright.sync_api import expect

    server = small_room
    start(server)
    with server.app.app_context():
        sitting = db.session.get(Sitting, server.sitting_id)
        db.session.get(Exam, sitting.exam_id).late_login = "remaining"
        sitting.started_at -= timedelta(minutes=12)
        for attempt in db.session.execute(db.select(Attempt)).scalars():
            attempt.started_at -= timedelta(minutes=12)
            attempt.deadline_at -= timedelta(minutes=12)
        db.session.commit()
        late = attempts.login_candidate(server.sitting_id, "20260003", PIN)
        started = local_clock(late.started_at)[:5]
    page = console(browser, server, *size)
    tile = page.get_by_test_id("seat-PC-03")
    expect(tile.locator(".seat-flags .late-mark")).to_have_attribute(
        "aria-label", "terlambat 12 mnt"
    )
    expect(page.get_by_test_id("seat-PC-01").locator(".late-mark")).to_have_count(0)
    expect(tile.locator(".seat-flags")).to_have_attribute("data-open", "")  # no flag to check
    tile.click()
    expect(page.get_by_test_id("panel-late")).to_have_text(
        f"mulai {started} WIB · terlambat 12 mnt · mendapat 18 mnt (sisa waktu sesi)"
    )
    shoot(page, "proctor-late-1366x768.png", size)
    page.get_by_test_id("seat-PC-01").click()
    expect(page.get_by_test_id("panel-late")).to_be_hidden()
    page.get_by_test_id("view-list").click()
    page.get_by_test_id("filter").select_option("late")
    expect(page.locator("#seat-list-body tr")).to_have_count(1)
    expect(page.get_by_test_id("row-PC-03")).to_contain_text("terlambat 12 mnt")
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}?lang=en")
    page.get_by_test_id("seat-PC-03").click()
    expect(page.get_by_test_id("panel-late")).to_have_text(
        f"started {started} WIB · 12 min late · got 18 min (what is left of the sitting)"
    )
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report?lang=id")
    row = page.get_by_test_id("report-table").locator("tr[data-kind=late]")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(2)).to_have_text("Peserta datang terlambat")
    expect(row.locator("td").nth(4)).to_have_text("PC-03")
    expect(row.locator("td").nth(7)).to_have_text(
        f"mulai {started} WIB, terlambat 12 mnt; mendapat 18 mnt (sisa waktu sesi)"
    )
