"""Headless Chromium, issue 19: the proctor console's help requests, acknowledged flags, last
activity, its own dialogs with counts, a visibly stale grid, and the English tiles; each at a
1366x768 front desk and a 1920x1080 wall display.

``CAT_SCREENSHOTS=1`` also writes docs/screenshots/proctor-help-request.png and
proctor-stale.png (1366x768).
"""

import os
import re
from datetime import timedelta

import pytest

from cat_server import create_app
from cat_server.exam import answers, attempts, payloads, presence, views
from cat_server.extensions import db
from cat_server.models import Attempt, AuditEvent, Candidate, utcnow
from tests.conftest import PIN, make_config, make_sitting, make_user, quick_hash
from tests.live import LiveServer
from tests.test_browser_proctor import SHOTS, browser, console  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SIZES = [pytest.param((1366, 768), id="1366x768"), pytest.param((1920, 1080), id="1920x1080")]


@pytest.fixture
def small_room(tmp_path):
    """Four seats on SQLite behind a live server: PC-01 and PC-02 logged in and waiting."""
    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app(make_config(db_url))
    with app.app_context():
        db.create_all()
        sitting_id = make_sitting(
            n_candidates=4, n_items=5, duration_s=30 * 60, proctor=make_user()
        )
        for c in db.session.execute(db.select(Candidate)).scalars():
            c.pin_hash = quick_hash(PIN)
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    with app.app_context():
        live.attempts = {
            reg: attempts.login_candidate(sitting_id, reg, PIN).id
            for reg in ("20260001", "20260002")
        }
    live.app, live.sitting_id = app, sitting_id
    yield live
    live.stop()
    with app.app_context():
        db.engine.dispose()


def no_browser_dialogs(page):
    """Fail on window.confirm/alert: every question is the page's own dialog."""
    seen = []
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    return seen


def start(server):
    with server.app.app_context():
        attempts.start_sitting(server.sitting_id, "user:1", "jadwal")
        for attempt_id in server.attempts.values():  # as if their pages were open
            attempt = db.session.get(Attempt, attempt_id)
            attempt.connected_sid, attempt.last_seen_at = f"pc-{attempt_id}", utcnow()
        db.session.commit()


@pytest.mark.parametrize("size", SIZES)
def test_start_and_end_ask_in_the_page_dialog_saying_how_many(browser, small_room, size):  # noqa: F811
    from playwright.sync_api import expect

    server = small_room
    page = console(browser, server, *size)
    asked = no_browser_dialogs(page)
    page.get_by_test_id("start-button").click()
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog).to_be_visible()
    # both logged in over HTTP only, no exam page connected: the dialog says their clocks start too
    expect(page.get_by_test_id("action-effect")).to_have_text(
        "2 peserta yang menunggu mulai mengerjakan sekarang; waktu mereka berjalan. "
        "2 di antaranya sedang tidak terhubung; waktu mereka juga berjalan."
    )
    page.get_by_test_id("action-submit").click()  # a note is optional for the routine start
    expect(page.get_by_test_id("sitting-status")).to_have_text("Berjalan")
    expect(page.get_by_test_id("count-answering").or_(page.get_by_test_id("count-disconnected")))
    page.get_by_test_id("end-sitting").click()
    expect(page.get_by_test_id("action-effect")).to_contain_text(
        "2 ujian yang belum selesai akan diakhiri sekarang (0 sudah selesai)"
    )
    page.get_by_test_id("action-reason").fill("Uji coba")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("sitting-status")).to_have_text("Selesai")
    expect(page.get_by_test_id("count-finished")).to_have_text("2")
    assert asked == [], f"the browser's own dialog was used: {asked}"


@pytest.mark.parametrize("size", SIZES)
def test_a_candidate_calls_a_proctor_and_every_console_shows_it_until_one_acknowledges(
    browser,  # noqa: F811
    small_room,
    size,
):
    from playwright.sync_api import expect

    server = small_room
    start(server)
    desk, wall = console(browser, server, *size), console(browser, server, *size)
    for page in (desk, wall):
        expect(page.get_by_test_id("count-flagged")).to_have_text("0")
    # the candidate's own page: the button, and Alt+B from the keyboard
    cand = browser.new_page(viewport={"width": size[0], "height": size[1]})
    cand.goto(f"{server.url}/exam/{server.sitting_id}/")
    cand.fill("input[name=registration_no]", "20260001")
    cand.fill("input[name=pin]", PIN)
    cand.locator("form button[type=submit]").click()
    expect(cand.get_by_test_id("help-button")).to_be_visible()
    expect(cand.get_by_test_id("help-button")).to_have_text("Minta bantuan")
    cand.wait_for_timeout(500)
    cand.keyboard.press("Alt+B")
    expect(cand.get_by_test_id("help-status")).to_have_text(
        "Pengawas dipanggil — mohon tunggu di tempat."
    )
    for page in (desk, wall):
        tile = page.get_by_test_id("seat-PC-01")
        expect(tile).to_have_class(re.compile(r"\bhelp\b"))
        expect(tile.locator(".seat-flags .icon-help")).to_have_attribute(
            "aria-label", "minta bantuan pengawas"
        )
        expect(page.get_by_test_id("count-flagged")).to_have_text("1")
    # the wall display in room mode: yellow, and a hand where the status shape was
    wall.get_by_test_id("view-room").click()
    lit = wall.get_by_test_id("seat-PC-01")
    expect(lit.locator(".seat-shape use")).to_have_attribute("href", "#icon-help")
    assert lit.evaluate("t => getComputedStyle(t).backgroundColor") == "rgb(254, 240, 138)"
    if os.environ.get("CAT_SCREENSHOTS") and size == (1366, 768):
        desk.get_by_test_id("seat-PC-01").click()
        desk.screenshot(path=str(SHOTS / "proctor-help-request.png"))
    desk.get_by_test_id("seat-PC-01").click()
    desk.get_by_test_id("ack-help").click()
    desk.get_by_test_id("action-submit").click()
    for page in (desk, wall):  # answered on one console: gone on every one
        expect(page.get_by_test_id("seat-PC-01")).not_to_have_class(re.compile(r"\bhelp\b"))
        expect(page.get_by_test_id("count-flagged")).to_have_text("0")
    expect(lit.locator(".seat-shape use")).to_have_attribute("href", "#st-answering")
    expect(desk.get_by_test_id("panel-flags")).to_contain_text(
        re.compile(r"dicek pengawas, \d\d:\d\d:\d\d WIB")
    )
    with server.app.app_context():
        actions = [
            (e.action, e.actor)
            for e in db.session.execute(
                db.select(AuditEvent)
                .where(AuditEvent.action.in_(("help_requested", "help_acknowledged")))
                .order_by(AuditEvent.id)
            ).scalars()
        ]
    assert actions[0][0] == "help_requested" and actions[0][1].startswith("candidate:")
    assert actions[1] == ("help_acknowledged", "user:1")


@pytest.mark.parametrize("size", SIZES)
def test_an_acknowledged_flag_leaves_the_count_and_last_seen_is_the_last_answer(
    browser,  # noqa: F811
    small_room,
    size,
):
    from playwright.sync_api import expect

    server = small_room
    start(server)
    attempt_id = server.attempts["20260002"]
    with server.app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.last_seen_at = utcnow() - timedelta(minutes=17)  # connected 17 minutes ago
        db.session.commit()
        state = views.attempt_state(attempt, full=False)
        answers.record_answer(
            attempt_id,
            payloads.AnswerIn(
                attempt=attempt_id, seq=state["seq"], item=state["item"]["id"], choice="A"
            ),
        )
        presence.note_focus_lost(attempt_id)
    page = console(browser, server, *size)
    tile = page.get_by_test_id("seat-PC-02")
    expect(tile.locator(".seat-flags .icon-focus_lost")).to_be_visible()
    expect(page.get_by_test_id("count-flagged")).to_have_text("1")
    tile.click()
    # the last activity (the answer a moment ago), not the connect 17 minutes ago
    expect(page.locator("#panel-seen")).to_have_text(re.compile(r"^\d+ dtk lalu · 1 terjawab$"))
    page.get_by_test_id("ack-focus_lost").click()
    page.get_by_test_id("action-reason").fill("Notifikasi sistem, sudah ditutup")
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("count-flagged")).to_have_text("0")
    expect(tile.locator(".seat-flags .icon-focus_lost")).to_have_class(re.compile(r"\backed\b"))
    expect(page.get_by_test_id("panel-flags")).to_contain_text("dicek pengawas")
    page.get_by_test_id("view-list").click()
    page.get_by_test_id("filter").select_option("flagged")
    expect(page.locator("#seat-list-body tr")).to_have_count(0)
    with server.app.app_context():
        event = db.session.execute(
            db.select(AuditEvent).where(AuditEvent.action == "flag_acknowledged")
        ).scalar_one()
        assert (event.actor, event.reason) == ("user:1", "Notifikasi sistem, sudah ditutup")


@pytest.mark.parametrize("size", SIZES)
def test_the_grid_goes_grey_with_its_time_when_the_console_loses_the_server(
    browser,  # noqa: F811
    small_room,
    size,
):
    from playwright.sync_api import expect

    server = small_room
    start(server)
    page = console(browser, server, *size)
    expect(page.get_by_test_id("proctor-connection")).to_have_text("Tersambung")
    expect(page.get_by_test_id("last-update")).to_be_hidden()
    server.stop()
    expect(page.get_by_test_id("proctor-connection")).to_have_text(
        "Terputus — menyambung ulang…", timeout=15000
    )
    note = page.get_by_test_id("last-update")
    expect(note).to_be_visible()
    expect(note).to_have_text(re.compile(r"data per \d\d:\d\d:\d\d WIB, tidak diperbarui"))
    opacity = page.evaluate("getComputedStyle(document.getElementById('seat-grid')).opacity")
    assert float(opacity) <= 0.6
    if os.environ.get("CAT_SCREENSHOTS") and size == (1366, 768):
        page.screenshot(path=str(SHOTS / "proctor-stale.png"))


@pytest.mark.parametrize("size", SIZES)
def test_english_tiles_keep_flags_clear_of_the_status_word_and_sort_only_in_the_list(
    browser,  # noqa: F811
    small_room,
    size,
):
    from playwright.sync_api import expect

    server = small_room
    start(server)
    with server.app.app_context():
        for attempt_id in server.attempts.values():
            presence.note_focus_lost(attempt_id)
        attempt = db.session.get(Attempt, server.attempts["20260001"])
        attempt.connected_sid, attempt.last_seen_at = None, utcnow() - timedelta(minutes=5)
        db.session.commit()
    page = console(browser, server, *size)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}?lang=en")
    tile = page.get_by_test_id("seat-PC-01")
    expect(tile.locator(".seat-word")).to_have_text("Offline")  # short; "Disconnected" in its title
    expect(tile.locator(".seat-word")).to_have_attribute("title", "Disconnected")
    expect(tile.locator(".seat-flags .icon")).to_have_count(2)
    overlaps = page.evaluate("""() => [...document.querySelectorAll('.seat')].filter(tile => {
        const word = tile.querySelector('.seat-word').getBoundingClientRect();
        return [...tile.querySelectorAll('.seat-flags .icon')].some(icon => {
            const b = icon.getBoundingClientRect();
            return b.left < word.right && b.right > word.left && b.top < word.bottom && b.bottom > word.top;
        });
    }).map(tile => tile.dataset.testid)""")
    assert overlaps == []
    expect(page.get_by_test_id("sort")).to_be_hidden()  # the grid keeps the room's order
    page.get_by_test_id("view-list").click()
    expect(page.get_by_test_id("sort")).to_be_visible()


@pytest.mark.parametrize("size", SIZES)
def test_the_incident_report_says_what_happened_in_words_at_local_times(
    browser,  # noqa: F811
    small_room,
    size,
):
    from playwright.sync_api import expect

    from cat_server.proctor import interventions

    server = small_room
    start(server)
    attempt_id = server.attempts["20260001"]
    with server.app.app_context():
        interventions.pause_attempt(attempt_id, "user:1", "Listrik padam di meja")
        interventions.extend_attempt(attempt_id, 10, "user:1", "Ganti waktu yang hilang")
    page = console(browser, server, *size)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report")
    table = page.get_by_test_id("report-table")
    for words in ("Ujian dimulai", "Kursi dijeda", "Waktu ditambah", "+10 menit"):
        expect(table).to_contain_text(words)
    for code in ("pause seat", "extend time", "minutes=", "start sitting"):
        expect(table).not_to_contain_text(code)
    expect(table.locator("th").first).to_have_text("Waktu (WIB)")
    with server.app.app_context():
        from cat_server.localtime import local_clock

        at = local_clock(
            db.session.execute(
                db.select(AuditEvent.at).where(AuditEvent.action == "time_extended")
            ).scalar_one()
        )
    expect(table.locator("tr", has_text="Waktu ditambah").locator("td").first).to_have_text(at)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report?lang=en")
    expect(table).to_contain_text("Seat paused")
    expect(table).to_contain_text("+10 min")


@pytest.mark.parametrize("size", SIZES)
def test_the_console_and_its_report_pass_an_accessibility_scan(browser, small_room, size):  # noqa: F811
    """axe-core (tests/a11y.py): no serious or critical violation on the console as a proctor
    sees it: the grid with a help call and a flag, the open seat panel, room mode, the list,
    the action dialog, and the incident report; in both languages."""
    from playwright.sync_api import expect

    from tests.a11y import assert_accessible

    server = small_room
    start(server)
    with server.app.app_context():
        presence.call_proctor(server.attempts["20260001"])
        presence.note_focus_lost(server.attempts["20260002"])
    for lang in ("id", "en"):
        page = console(browser, server, *size)
        page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}?lang={lang}")
        expect(page.get_by_test_id("seat-PC-01")).to_have_class(re.compile(r"\bhelp\b"))
        assert_accessible(page, f"proctor console ({lang})")
        page.get_by_test_id("seat-PC-02").click()
        expect(page.get_by_test_id("seat-panel")).to_be_visible()
        assert_accessible(page, f"proctor console with the seat panel ({lang})")
        page.get_by_test_id("ack-focus_lost").click()
        expect(page.get_by_test_id("action-dialog")).to_be_visible()
        assert_accessible(page, f"proctor action dialog ({lang})")
        page.locator("#action-cancel").click()
        page.locator("#panel-close").click()
        page.get_by_test_id("view-room").click()
        assert_accessible(page, f"proctor room mode ({lang})")
        page.get_by_test_id("view-room").click()
        page.get_by_test_id("view-list").click()
        expect(page.get_by_test_id("seat-list")).to_be_visible()
        assert_accessible(page, f"proctor list ({lang})")
        page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report?lang={lang}")
        assert_accessible(page, f"incident report ({lang})")
        page.close()
