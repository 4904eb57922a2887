"""Headless Chromium against a real gunicorn, issue 19's outsider walk of the console and the
board (and issue 18's late login): a help call in the incident report, a late candidate on the
tile, the list, the panel and the report, the board ranked by score and saying when the sitting
has ended, and the seat panel beside, never over, the seats; at 1366x768 and 1920x1080.

``CAT_SCREENSHOTS=1`` also writes docs/screenshots/proctor-late-1366x768.png,
proctor-report-1366x768.png, proctor-panel-list-1366x768.png, proctor-room-panel-1366x768.png
and board-ended-1366x768.png.
"""

import os
import re
from datetime import timedelta

import pytest

from cat_server.exam import attempts, presence
from cat_server.extensions import db
from cat_server.localtime import local_clock
from cat_server.models import Attempt, AuditEvent, Candidate, Exam, Sitting, utcnow
from tests.a11y import assert_accessible
from tests.conftest import PIN
from tests.live import proctor_call
from tests.test_browser_console import SIZES, small_room, start  # noqa: F401 (fixture)
from tests.test_browser_proctor import (  # noqa: F401 (fixtures)
    N_SEATS,
    SHOTS,
    big_room,
    browser,
    console,
)

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


@pytest.fixture
def board_room(small_room):  # noqa: F811
    """The small room with its board on: PC-01 and PC-02 finished 20 minutes ago with 40 and 25
    points, PC-03 ended by the proctor a moment ago with nothing answered, PC-04 answering."""
    from cat_server.proctor import interventions

    server = small_room
    with server.app.app_context():
        sitting = db.session.get(Sitting, server.sitting_id)
        db.session.get(Exam, sitting.exam_id).board_enabled = True
        db.session.commit()
        for reg in ("20260003", "20260004"):
            server.attempts[reg] = attempts.login_candidate(server.sitting_id, reg, PIN).id
    start(server)
    with server.app.app_context():
        for reg, total in (("20260001", 40), ("20260002", 25)):
            attempt = db.session.get(Attempt, server.attempts[reg])
            attempt.status, attempt.finish_reason = "finished", "completed"
            attempt.finished_at = utcnow() - timedelta(minutes=20)
            attempt.total_score, attempt.section_scores = total, {"TWK": total}
            attempt.passed = True
        db.session.commit()
        interventions.end_attempt(server.attempts["20260003"], "user:1", "Peserta sakit")
    return server


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080)], ids=str)
def test_the_board_ranks_by_score_and_says_when_the_sitting_has_ended(browser, board_room, size):  # noqa: F811
    from playwright.sync_api import expect

    server = board_room
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"{server.url}/board/{server.sitting_id}")
    rows = page.locator("#board-rows tr")
    expect(rows).to_have_count(3)  # the finished only: PC-04 is still answering
    # ranked by score: the zero just ended by the proctor is new, highlighted, and last
    expect(rows.locator("td.c-total")).to_have_text(["40", "25", "0"])
    expect(rows.locator("td.c-rank")).to_have_text(["1", "2", re.compile(r"^3\s*BARU$")])
    expect(rows.nth(2)).to_have_class(re.compile(r"\bfresh\b"))
    expect(rows.nth(0)).not_to_have_class(re.compile(r"\bfresh\b"))
    expect(page.get_by_test_id("board-running")).to_have_text("1 masih mengerjakan")
    live = page.get_by_test_id("board-live")
    expect(live).to_have_text("LANGSUNG")
    # a TV 3 m away: the footer as large as the rows' text, not 14 px
    foot = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.board-foot')).fontSize)"
    )
    assert foot >= 20, foot
    ack = proctor_call(server.url, server.sitting_id, "end_sitting", reason="Waktu habis")
    assert ack["ok"], ack
    expect(live).to_have_text("SESI SELESAI")
    expect(live).to_have_class(re.compile(r"\bended\b"))
    expect(rows).to_have_count(4)  # PC-04 finished too, by the end
    shoot(page, "board-ended-1366x768.png", size)
    page.goto(f"{server.url}/board/{server.sitting_id}?lang=en")
    expect(live).to_have_text("SITTING ENDED")
    page.close()


def on_top(page, testid):
    """Is the element on the screen and the topmost thing at its centre (nothing lies over it)?"""
    return page.evaluate(
        """id => { const n = document.querySelector(`[data-testid="${id}"]`);
            const b = n.getBoundingClientRect(), x = b.x + b.width / 2, y = b.y + b.height / 2;
            return b.width > 0 && b.left >= 0 && b.top >= 0 && b.right <= innerWidth &&
                b.bottom <= innerHeight && n.contains(document.elementFromPoint(x, y)); }""",
        testid,
    )


@pytest.mark.parametrize("size", SIZES)
def test_room_mode_keeps_start_pause_extend_and_end_in_reach(browser, small_room, size):  # noqa: F811
    from playwright.sync_api import expect

    server = small_room
    page = console(browser, server, *size)
    page.get_by_test_id("view-room").click()
    expect(page.get_by_test_id("start-button")).to_be_visible()
    assert on_top(page, "start-button")
    page.get_by_test_id("start-button").click()
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("sitting-status")).to_have_text("Berjalan")
    menu = page.get_by_test_id("sitting-menu")
    expect(menu).to_have_text("Tindakan sesi")
    assert on_top(page, "sitting-menu")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for action in ("pause-sitting", "extend-sitting", "note-sitting", "end-sitting"):
        expect(page.get_by_test_id(action)).to_be_visible()
        assert on_top(page, action), f"{action} is off the screen or covered"
    assert_accessible(page, f"room mode with the sitting's actions open, {size}")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("end-sitting")).to_be_hidden()
    menu.click()
    page.get_by_test_id("extend-sitting").click()  # the menu closes, the dialog asks
    expect(page.get_by_test_id("action-dialog")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    page.get_by_test_id("action-minutes").fill("5")
    page.get_by_test_id("action-reason").fill("Gangguan listrik")
    page.get_by_test_id("action-submit").click()
    expect(page.locator("#proctor-notice")).to_contain_text("Tambah waktu semua peserta")
    menu.click()
    page.get_by_test_id("end-sitting").click()
    page.get_by_test_id("action-reason").fill("Selesai")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("sitting-status")).to_have_text("Selesai")
    expect(menu).to_be_hidden()  # nothing left to do to an ended sitting
    expect(page.get_by_test_id("view-room")).to_have_attribute("aria-pressed", "true")


def under_panel(page, selector):
    """The testids (or texts) of the elements matching ``selector`` that the seat panel covers."""
    return page.evaluate(
        """sel => { const p = document.getElementById('seat-panel').getBoundingClientRect();
            return [...document.querySelectorAll(sel)].filter(n => {
                const b = n.getBoundingClientRect();
                return b.width && b.left < p.right && b.right > p.left && b.top < p.bottom && b.bottom > p.top;
            }).map(n => n.dataset.testid || n.textContent.trim()); }""",
        selector,
    )


@pytest.mark.parametrize("size", SIZES)
def test_the_seat_panel_lies_beside_the_seats_never_over_them(browser, big_room, size):  # noqa: F811
    """The outsider walk: the panel covered the list's columns and tiles, and at 1920x1080 its
    own seat. Now the grid, the list and the room mode end where the panel begins."""
    from playwright.sync_api import expect

    server = big_room
    width, height = size
    page = console(browser, server, width, height)
    expect(page.locator(".seat")).to_have_count(N_SEATS)
    seats = ("PC-01", "PC-16", "PC-150", "PC-300")
    for seat in seats:  # the grid
        page.get_by_test_id(f"seat-{seat}").click()
        expect(page.get_by_test_id("seat-panel")).to_be_visible()
        assert under_panel(page, ".seat") == [], f"grid, {seat}"
    page.get_by_test_id("view-list").click()  # the list: no column under the panel
    for seat in seats:
        page.get_by_test_id(f"row-{seat}").click()
        assert under_panel(page, "#seat-list th, #seat-list td") == [], f"list, {seat}"
    page.get_by_test_id("row-PC-03").click()
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, "proctor-panel-list-1366x768.png", size)
    page.get_by_test_id("view-grid").click()
    page.get_by_test_id("view-room").click()  # room mode: every seat still on the one screen
    for seat in seats:
        page.get_by_test_id(f"seat-{seat}").click()
        expect(page.get_by_test_id("seat-panel")).to_be_visible()
        page.wait_for_timeout(100)
        assert under_panel(page, ".seat") == [], f"room mode, {seat}"
        off = page.evaluate("""() => [...document.querySelectorAll('.seat')].filter(t => {
            const b = t.getBoundingClientRect();
            return b.right > innerWidth + 0.5 || b.bottom > innerHeight + 0.5; }).length""")
        assert off == 0, f"room mode with the panel open: {off} seats off the screen"
    shoot(page, "proctor-room-panel-1366x768.png", size)
    page.locator("#panel-close").click()
    expect(page.get_by_test_id("seat-panel")).to_be_hidden()
    page.get_by_test_id("view-room").click()
