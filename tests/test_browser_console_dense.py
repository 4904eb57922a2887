"""Headless Chromium against a real gunicorn, issue 19's second outsider walk: 300 seats labelled
PC-0001…PC-0300 as ``cat-server load-seed`` makes them. Every seat label shows whole on the dense
grid and in room mode (with its shape and its help hand), status words are short words, never cut
mid-word; the seat panel's actions stay in sight; the list keeps its counts in sight; the help
dialog says what its button said; and the incident report reads as text, in the right plurals.

``CAT_SCREENSHOTS=1`` also writes docs/screenshots/proctor-grid-300-seed-1366x768.png and
proctor-room-300-seed-1366x768.png.
"""

import os
import re

import pytest

from cat_server import create_app
from cat_server.exam import attempts, presence
from cat_server.extensions import db
from cat_server.models import Attempt, Candidate, Seat, utcnow
from cat_server.proctor import interventions
from tests.conftest import PIN, make_config, make_sitting, make_user, quick_hash
from tests.live import LiveServer
from tests.test_browser_console import small_room, start  # noqa: F401 (fixture)
from tests.test_browser_proctor import SHOTS, browser, console  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = [pytest.param((1366, 768), id="1366x768"), pytest.param((1920, 1080), id="1920x1080")]


def shoot(page, name, size):
    if os.environ.get("CAT_SCREENSHOTS") and size == (1366, 768):
        page.screenshot(path=str(SHOTS / name))


@pytest.fixture(scope="module")
def seed_room(tmp_path_factory):
    """300 seats PC-0001…PC-0300 on SQLite: 61 logged in and started, PC-0001…PC-0003 on line
    (answering), the rest cut off (disconnected); PC-0061 calls for help and left its window."""
    tmp = tmp_path_factory.mktemp("seed_room")
    db_url = f"sqlite:///{tmp / 'test.db'}"
    app = create_app(make_config(db_url))
    with app.app_context():
        db.create_all()
        sitting_id = make_sitting(
            n_candidates=300, n_items=5, duration_s=180 * 60, proctor=make_user()
        )
        for seat in db.session.execute(db.select(Seat)).scalars():
            seat.label = f"PC-{seat.position:04d}"
        for c in db.session.execute(db.select(Candidate)).scalars():
            c.pin_hash = quick_hash(PIN)
        db.session.commit()
    live = LiveServer(db_url, tmp / "server.log").start()
    with app.app_context():
        ids = [attempts.login_candidate(sitting_id, f"2026{i:04d}", PIN).id for i in range(1, 62)]
        attempts.start_sitting(sitting_id, "user:1", "jadwal")
        for attempt_id in ids[:3] + ids[-1:]:
            attempt = db.session.get(Attempt, attempt_id)
            attempt.connected_sid, attempt.last_seen_at = f"pc-{attempt_id}", utcnow()
        db.session.commit()
        presence.call_proctor(ids[-1])
        presence.note_focus_lost(ids[-1])
        db.session.remove()
        db.engine.dispose()
    live.sitting_id = sitting_id
    yield live
    live.stop()


def cut_words(page, selector):
    """The texts of the elements matching ``selector`` (visible ones) that do not fit their box."""
    return page.evaluate(
        """sel => [...document.querySelectorAll(sel)].filter(n => n.offsetParent &&
            getComputedStyle(n).visibility !== 'hidden' && n.scrollWidth > n.clientWidth + 0.5)
            .map(n => n.closest('.seat').dataset.testid + ': ' + n.textContent)""",
        selector,
    )


@pytest.mark.parametrize("size", SIZES)
def test_dense_grid_shows_every_seat_number_whole_and_no_status_word_cut(
    browser,  # noqa: F811
    seed_room,
    size,
):
    from playwright.sync_api import expect

    page = console(browser, seed_room, *size)
    expect(page.locator(".seat")).to_have_count(300)
    expect(page.get_by_test_id("seat-PC-0004")).to_have_attribute("data-status", "disconnected")
    # every seat shares "PC-": the legend says it once, the tiles show the number
    expect(page.get_by_test_id("legend-prefix")).to_have_text("Kursi PC-…")
    expect(page.get_by_test_id("seat-PC-0061").locator(".seat-label")).to_have_text("PC-0061")
    assert page.get_by_test_id("seat-PC-0061").locator(".seat-prefix").is_hidden()
    assert cut_words(page, ".seat-label") == []
    assert cut_words(page, ".seat-word") == []
    word = page.get_by_test_id("seat-PC-0004").locator(".seat-word")
    expect(word).to_have_text("Putus")
    expect(word).to_have_attribute("title", "Terputus")
    shoot(page, "proctor-grid-300-seed-1366x768.png", size)
    page.get_by_test_id("seat-PC-0061").click()  # the panel open: fewer columns, still whole
    expect(page.get_by_test_id("seat-panel")).to_be_visible()
    assert cut_words(page, ".seat-label") == []
    assert cut_words(page, ".seat-word") == []
    page.close()


def hidden_parts(page):
    """Room mode: the tiles whose number is cut, whose shape is clipped or covered."""
    return page.evaluate("""() => [...document.querySelectorAll('.seat')].flatMap(tile => {
        const t = tile.getBoundingClientRect(), label = tile.querySelector('.seat-label');
        const shape = tile.querySelector('.seat-shape'), s = shape.getBoundingClientRect();
        const bad = [];
        if (label.scrollWidth > label.clientWidth + 0.5) bad.push('label');
        if (s.width < 8 || s.left < t.left || s.right > t.right - 1.5 || s.top < t.top ||
            s.bottom > t.bottom) bad.push('shape');
        else if (!shape.contains(document.elementFromPoint(s.x + s.width / 2, s.y + s.height / 2)))
            bad.push('shape covered');
        return bad.map(b => tile.dataset.testid + ' ' + b); })""")


@pytest.mark.parametrize("size", SIZES)
def test_room_mode_shows_every_number_shape_and_help_hand_whole(browser, seed_room, size):  # noqa: F811
    from playwright.sync_api import expect

    page = console(browser, seed_room, *size)
    expect(page.locator(".seat")).to_have_count(300)
    page.get_by_test_id("view-room").click()
    help_tile = page.get_by_test_id("seat-PC-0061")
    expect(help_tile).to_have_class(re.compile(r"\bhelp\b"))
    expect(help_tile.locator(".seat-shape use")).to_have_attribute("href", "#icon-help")
    expect(help_tile.locator(".seat-label")).to_have_text("0061", use_inner_text=True)
    page.wait_for_timeout(200)  # the grid is refitted on the next frame
    assert hidden_parts(page) == []
    off = page.evaluate("""() => [...document.querySelectorAll('.seat')].filter(t => {
        const b = t.getBoundingClientRect();
        return b.right > innerWidth + 0.5 || b.bottom > innerHeight + 0.5; }).length""")
    assert off == 0
    shoot(page, "proctor-room-300-seed-1366x768.png", size)
    page.get_by_test_id("view-room").click()  # leave room mode for the next page of the test
    page.close()


def on_screen(page, testid):
    """Is the element on the screen, and the topmost thing at its centre?"""
    return page.evaluate(
        """id => { const n = document.querySelector(`[data-testid="${id}"]`);
            const b = n.getBoundingClientRect(), x = b.x + b.width / 2, y = b.y + b.height / 2;
            return b.height > 0 && b.top >= 0 && b.bottom <= innerHeight + 1 &&
                n.contains(document.elementFromPoint(x, y)); }""",
        testid,
    )


def test_seat_panel_keeps_every_action_in_sight_and_the_help_dialog_says_the_button(
    browser,  # noqa: F811
    seed_room,
):
    from playwright.sync_api import expect

    page = console(browser, seed_room, 1366, 768)
    page.get_by_test_id("seat-PC-0061").click()
    expect(page.get_by_test_id("panel-flags").locator(".panel-flag")).to_have_count(2)
    for action in (
        "pause-seat",
        "extend-seat",
        "move-seat",
        "reset-pin",
        "end-session",
        "note-seat",
        "end-attempt",
    ):
        assert on_screen(page, action), f"{action} is cut off or covered in the seat panel"
    page.get_by_test_id("ack-help").click()
    expect(page.get_by_test_id("ack-help")).to_have_text("Sudah didatangi")
    expect(page.locator("#action-title")).to_have_text("Tandai sudah didatangi")
    page.locator("#action-cancel").click()
    page.close()


def test_the_list_keeps_counts_and_view_bar_in_sight_far_down(browser, seed_room):  # noqa: F811
    from playwright.sync_api import expect

    page = console(browser, seed_room, 1366, 768)
    page.get_by_test_id("view-list").click()
    page.get_by_test_id("row-PC-0280").click()
    expect(page.get_by_test_id("seat-panel")).to_be_visible()
    assert page.evaluate("scrollY") > 2000
    for testid in ("count-disconnected", "count-flagged", "view-grid", "filter"):
        assert on_screen(page, testid), f"{testid} scrolled away"
    # the list's own rows still show under the sticky head, the clicked one included
    assert on_screen(page, "row-PC-0280"), page.evaluate(
        """() => { const b = document.querySelector('[data-testid=row-PC-0280]').getBoundingClientRect();
            const c = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);
            return [b.top, b.bottom, innerHeight, c && c.outerHTML.slice(0, 120)]; }"""
    )
    page.get_by_test_id("view-grid").click()
    page.close()


def test_the_report_reads_seats_as_text_in_plurals_and_says_when_the_exam_ended_first(
    browser,  # noqa: F811
    small_room,  # noqa: F811
):
    from playwright.sync_api import expect

    server = small_room
    start(server)
    with server.app.app_context():
        presence.call_proctor(server.attempts["20260002"])
        interventions.end_attempt(server.attempts["20260002"], "user:1", "Peserta sakit")
        interventions.end_sitting(server.sitting_id, "user:1", "Waktu habis")  # PC-01 only
    page = console(browser, server, 1366, 768)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report")
    table = page.get_by_test_id("report-table")
    call = table.locator("tr[data-kind=help]").locator("td")
    expect(call.nth(7)).to_have_text("ujian selesai sebelum didatangi")
    ended = table.locator("tr[data-kind=action]").last.locator("td")
    expect(ended.nth(2)).to_have_text("Sesi diakhiri")
    expect(ended.nth(4)).to_have_text("—")
    # plain text in a table cell, not drawn as a seat tile (a flex box with a grey top bar)
    assert ended.nth(4).evaluate("n => getComputedStyle(n).display") == "table-cell"
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report?lang=en")
    expect(ended.nth(7)).to_have_text("1 candidate")
    expect(call.nth(7)).to_have_text("the exam ended before it was answered")
    page.close()
