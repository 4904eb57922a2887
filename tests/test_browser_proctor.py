"""Headless Chromium: the proctor console with 300 seats, seat actions through the UI, the board,
and a seat's section clock (a section with its own time limit) beside the exam's.

``CAT_SCREENSHOTS=1`` also writes docs/screenshots/proctor-grid-300.png, proctor-action.png,
board.png, proctor-section-clock.png, proctor-room-300-1366x768.png, proctor-room-300-1920x1080.png,
proctor-room-300-actions-1366x768.png and board-1280x720.png / board-1366x768.png.
"""

import os
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest

from cat_server import create_app
from cat_server.exam import answers, attempts, payloads, presence, views
from cat_server.extensions import db
from cat_server.models import Attempt, Candidate, Exam, Incident, Sitting, utcnow
from cat_server.proctor import feed, interventions
from tests.a11y import assert_accessible
from tests.conftest import PIN, make_config, make_sitting, make_user, quick_hash
from tests.live import LiveServer
from tests.test_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rizki", "Putri", "Andi", "Nur", "Fajar", "Rina"]
LAST = ["Santoso", "Rahmawati", "Saputra", "Hidayat", "Wijaya", "Nugroho", "Siregar", "Pratama"]
N_SEATS, N_ITEMS = 300, 10


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def name_candidates(sitting_id, rng):
    """Give the room's candidates names, 12-digit numbers and a quick PIN hash.

    Return (candidate id, registration number) of each, in seat order.
    """
    # The seats log in through the service, a real argon2id verify each, but against a hash of
    # the lowest cost argon2 takes: 290 verifies at the PIN cost were 9 s of every setup, and
    # this test is about the grid (tests/security and tests/reliability time real costs).
    candidates = (
        db.session.execute(
            db.select(Candidate).where(Candidate.sitting_id == sitting_id).order_by(Candidate.id)
        )
        .scalars()
        .all()
    )
    seats = []
    for c in candidates:
        c.name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        c.registration_no = f"2026{c.registration_no[4:].zfill(8)}"
        c.pin_hash = quick_hash(PIN)
        seats.append((c.id, c.registration_no))
    db.session.commit()
    return seats


def fill_room(sitting_id):
    """290 of 300 seats logged in, answering at different speeds, some finished, paused, flagged."""
    rng = random.Random(5)
    proctor_actor = "user:1"
    # ids, not ORM objects, from here on: each of the ~1800 commits below expires every object
    # the session still holds, and 290 candidates with their attempts made that seconds
    present = name_candidates(sitting_id, rng)[:290]
    attempt_ids = [
        attempts.login_candidate(sitting_id, registration_no, PIN).id
        for _, registration_no in present
    ]
    attempts.start_sitting(sitting_id, proctor_actor, "jadwal")
    for i, attempt_id in enumerate(attempt_ids):
        for _ in range(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) if i % 12 else 0):
            attempt = db.session.get(Attempt, attempt_id)
            if attempt.status != "in_progress":
                break
            state = views.attempt_state(attempt, full=False)
            answers.record_answer(
                attempt_id,
                payloads.AnswerIn(
                    attempt=attempt_id,
                    seq=state["seq"],
                    item=state["item"]["id"],
                    choice=rng.choice("ABCDE"),
                ),
            )
    now = utcnow()
    finished = 0
    for i, attempt_id in enumerate(attempt_ids):
        attempt = db.session.get(Attempt, attempt_id)
        attempt.started_at = now - timedelta(minutes=20)  # the room has been at it a while
        if attempt.status == "finished":  # all but the last two finished minutes ago
            finished += 1
            if finished <= 24:
                attempt.finished_at = now - timedelta(minutes=15 - finished / 3)
        attempt.connected_sid = None if i % 47 == 5 else f"demo-{i}"
        attempt.last_seen_at = now - timedelta(minutes=2) if i % 47 == 5 else now
    db.session.commit()
    for i in (36, 48, 156):  # seats with no answer yet: always still running
        interventions.pause_attempt(attempt_ids[i], proctor_actor, "Listrik padam di meja")
    for i in (77, 210):
        presence.note_focus_lost(attempt_ids[i])
    interventions.move_seat(attempt_ids[120], None, proctor_actor, "Monitor rusak")
    interventions.move_seat(attempt_ids[120], None, proctor_actor, "Keyboard rusak")
    db.session.add(
        Incident(
            sitting_id=sitting_id,
            candidate_id=present[36][0],
            category="power",
            text="Stop kontak meja 31 mati",
            actor=proctor_actor,
        )
    )
    db.session.commit()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def big_room(request, tmp_path_factory):
    """The 300-seat room behind a live server, built once per database for the module's tests.

    Its database is its own (a SQLite file, or a PostgreSQL database of its own), so the
    function-scoped ``app`` of other tests never empties it while it lives. The tests on it
    leave the room as they found it: the board only reads, and the console test puts its
    seat back to answering (the 15 minutes it adds show on no board column).
    """
    tmp = tmp_path_factory.mktemp("big_room")
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp / 'test.db'}"
    else:
        db_url = request.getfixturevalue("new_pg_database")()
    app = create_app(make_config(db_url))
    with app.app_context():
        db.create_all()
        proctor = make_user()
        sitting_id = make_sitting(
            n_candidates=N_SEATS,
            n_items=N_ITEMS,
            duration_s=100 * 60,
            name="Sesi SKD Gedung B",
            proctor=proctor,
        )
        exam = db.session.get(Exam, db.session.get(Sitting, sitting_id).exam_id)
        exam.board_enabled = True
        exam.board_fields = ["seat", "registration_no", "name", "sections", "total", "passed"]
        db.session.commit()
    live = LiveServer(db_url, tmp / "server.log").start()
    with app.app_context():  # after the start: the server clears socket marks when it starts
        fill_room(sitting_id)
        db.session.remove()
        db.engine.dispose()
    feed.take_dirty()  # the seats marked here are no later test's business
    live.sitting_id = sitting_id
    yield live
    live.stop()


def seconds(text):
    """'1:23:45' or '23:45' in seconds."""
    return sum(int(v) * 60**i for i, v in enumerate(reversed(text.split(":"))))


def cut_tiles(page):
    """Tiles whose text runs past their edge (a clock cut to 01:39:2)."""
    return page.evaluate("""() => [...document.querySelectorAll('.seat')].filter(tile => {
        const right = tile.getBoundingClientRect().right;
        return tile.scrollWidth > tile.clientWidth || [...tile.querySelectorAll('.seat-time, .seat-answered')]
            .some(n => n.scrollWidth > n.clientWidth || n.getBoundingClientRect().right > right);
    }).map(tile => tile.dataset.testid)""")


def staff_login(page, server):
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "pengawas")
    page.fill("input[name=password]", "rahasia-123")
    page.click("button[type=submit]")


def console(browser, server, width, height):
    """A new page at this size, logged in as the proctor, on the sitting's console."""
    page = browser.new_page(viewport={"width": width, "height": height})
    staff_login(page, server)
    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}")
    return page


def test_300_seats_fit_one_screen_and_a_seat_is_paused_and_extended_from_the_panel(
    browser, big_room
):
    from playwright.sync_api import expect

    server = big_room
    page = console(browser, server, 1920, 1080)
    expect(page.locator(".seat")).to_have_count(N_SEATS)
    expect(page.get_by_test_id("count-absent")).to_have_text("10")
    expect(page.get_by_test_id("count-paused")).to_have_text("3")
    expect(page.get_by_test_id("seat-PC-37")).to_have_attribute("data-status", "paused")
    # flags: disconnected for 2 minutes, focus lost, two seat moves; drawn icons with their words
    flag = page.get_by_test_id("seat-PC-06").locator(".seat-flags .icon-disconnected")
    expect(flag).to_have_attribute("aria-label", re.compile(r"^terputus >\d+ dtk$"))
    flag = page.get_by_test_id("seat-PC-78").locator(".seat-flags .icon-focus_lost")
    expect(flag).to_have_attribute("aria-label", "pindah tab/jendela")
    flag = page.get_by_test_id("seat-PC-121").locator(".seat-flags .icon-many_moves")
    expect(flag).to_have_attribute("aria-label", "sering pindah kursi")
    # no icon is a font glyph: Debian's fonts lack some and show an empty box
    glyphs = page.evaluate("""() => [...document.querySelectorAll('.seat-flags, .legend, #panel-close')]
        .flatMap(n => [...n.childNodes]).filter(c => c.nodeType === 3 && /[^\\x00-\\x7f]/.test(c.textContent))
        .map(c => c.textContent)""")
    assert glyphs == []
    height = page.evaluate("document.scrollingElement.scrollHeight")
    assert height <= 1080, f"the 300-seat grid needs scrolling: {height}px"
    if os.environ.get("CAT_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "proctor-grid-300.png"))
    # every tile's clock whole (1:39:20) on a hall screen and on a 1366 px front desk,
    # where an open seat panel (docked right, then left) leaves the header in sight:
    # the counts (on two lines at this width) and the view switch
    expect(page.get_by_test_id("seat-PC-105").locator(".seat-clock")).to_have_text(
        re.compile(r"^1:\d\d:\d\d$")
    )
    assert cut_tiles(page) == []
    page.set_viewport_size({"width": 1366, "height": 768})
    assert cut_tiles(page) == []
    for seat in ("PC-03", "PC-13"):
        page.get_by_test_id(f"seat-{seat}").click()
        panel = page.get_by_test_id("seat-panel").bounding_box()
        for count in page.locator(".counts .count").all():
            box = count.bounding_box()
            assert (
                box["y"] + box["height"] <= panel["y"]
                or box["x"] >= panel["x"] + panel["width"]
                or box["x"] + box["width"] <= panel["x"]
            ), f"the panel covers a count ({seat})"
        box = page.get_by_test_id("view-list").bounding_box()
        assert box["y"] + box["height"] <= panel["y"], f"the panel covers the view switch ({seat})"
    page.set_viewport_size({"width": 1920, "height": 1080})

    tile = page.get_by_test_id("seat-PC-13")
    expect(tile).to_have_attribute("data-status", "answering")
    tile.click()
    panel = page.get_by_test_id("seat-panel")
    expect(panel).to_be_visible()
    page.get_by_test_id("pause-seat").click()
    page.get_by_test_id("action-submit").click()  # no reason yet: refused in the dialog
    expect(page.locator("#action-error")).to_contain_text("wajib")
    page.get_by_test_id("action-reason").fill("Peserta sakit kepala")
    if os.environ.get("CAT_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "proctor-action.png"))
    page.get_by_test_id("action-submit").click()
    expect(tile).to_have_attribute("data-status", "paused")
    frozen = page.locator("#panel-time").inner_text()
    page.wait_for_timeout(2200)
    assert page.locator("#panel-time").inner_text() == frozen  # the clock stands still

    page.get_by_test_id("extend-seat").click()
    page.get_by_test_id("action-minutes").fill("15")
    page.get_by_test_id("action-reason").fill("Ganti waktu yang hilang")
    page.get_by_test_id("action-submit").click()
    expect(page.locator("#panel-time")).not_to_have_text(frozen)
    added = seconds(page.locator("#panel-time").inner_text()) - seconds(frozen)
    assert added == pytest.approx(15 * 60, abs=1)

    page.get_by_test_id("resume-seat").click()
    page.get_by_test_id("action-reason").fill("Sudah membaik")
    page.get_by_test_id("action-submit").click()
    expect(tile).to_have_attribute("data-status", "answering")

    page.get_by_test_id("view-list").click()
    page.get_by_test_id("filter").select_option("paused")
    expect(page.locator("#seat-list-body tr")).to_have_count(3)
    page.get_by_test_id("filter").select_option("flagged")
    assert page.locator("#seat-list-body tr").count() >= 4

    page.goto(f"{server.url}/proctor/sittings/{server.sitting_id}/report")
    expect(page.get_by_test_id("report-table")).to_contain_text("Peserta sakit kepala")
    expect(page.get_by_test_id("report-table")).to_contain_text("Waktu ditambah")
    expect(page.get_by_test_id("report-table")).to_contain_text("+15 menit")


def test_the_board_is_legible_on_a_hall_tv(browser, big_room):
    from playwright.sync_api import expect

    server = big_room
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server.url}/board/{server.sitting_id}")
    rows = page.locator("#board-rows tr")
    expect(rows.first).to_be_visible()
    first = rows.first.inner_text()
    assert re.search(r"2026\*{4}\d{4}", first), first
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 1080
    font = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#board-rows td')).fontSize)"
    )
    assert font >= 28
    if os.environ.get("CAT_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "board.png"))


@pytest.fixture
def timed_room(app, db_url, tmp_path):
    """TWK with 10 minutes of its own, TKP 30 (capped by the exam's 20); PC-01 answering."""
    from tests.test_section_time import TIMED_SECTIONS
    from tests.test_sections import SKD_ITEMS, build_sitting

    with app.app_context():
        sitting_id = build_sitting(TIMED_SECTIONS, SKD_ITEMS, n_candidates=3, duration_s=20 * 60)
        proctor = make_user()
        sitting = db.session.get(Sitting, sitting_id)
        sitting.proctors.append(proctor)
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    with app.app_context():
        attempts.login_candidate(sitting_id, "R1", "123456")
        attempt = db.session.execute(db.select(Attempt)).scalar_one()
        attempt.connected_sid, attempt.last_seen_at = "pc-1", utcnow()  # as if its page were open
        db.session.commit()
    live.sitting_id = sitting_id
    yield live
    live.stop()


def test_a_tile_shows_the_section_clock_and_the_exam_clock_through_pause_and_extension(
    browser, timed_room
):
    from playwright.sync_api import expect

    server = timed_room
    page = console(browser, server, 1366, 768)
    tile = page.get_by_test_id("seat-PC-01")
    expect(tile).to_have_attribute("data-status", "answering")
    expect(tile.locator(".seat-section")).to_have_text("TWK")
    expect(tile.locator(".seat-clock")).to_have_text(re.compile(r"^(10:00|09:[45]\d)$"))
    expect(tile.locator(".seat-exam-time")).to_have_text(re.compile(r"^Ujian (20:00|19:[45]\d)$"))
    absent = page.get_by_test_id("seat-PC-02")  # no attempt: no clock at all
    expect(absent.locator(".seat-time")).to_have_text("")

    tile.click()
    expect(page.get_by_test_id("panel-section")).to_have_text("TWK — Tes Wawasan Kebangsaan (1/2)")
    page.get_by_test_id("pause-seat").click()
    page.get_by_test_id("action-reason").fill("Listrik padam di meja")
    page.get_by_test_id("action-submit").click()
    expect(tile).to_have_attribute("data-status", "paused")
    frozen = tile.locator(".seat-clock").inner_text()
    frozen_exam = page.get_by_test_id("panel-time").inner_text()
    page.wait_for_timeout(2200)
    assert tile.locator(".seat-clock").inner_text() == frozen  # both clocks stand still
    assert page.get_by_test_id("panel-section-time").inner_text() == frozen
    assert page.get_by_test_id("panel-time").inner_text() == frozen_exam

    page.get_by_test_id("extend-seat").click()
    page.get_by_test_id("action-minutes").fill("5")
    page.get_by_test_id("action-reason").fill("Ganti waktu yang hilang")
    page.get_by_test_id("action-submit").click()
    expect(tile.locator(".seat-clock")).not_to_have_text(frozen)
    assert seconds(tile.locator(".seat-clock").inner_text()) - seconds(frozen) == 5 * 60
    assert seconds(page.get_by_test_id("panel-time").inner_text()) - seconds(frozen_exam) == 5 * 60
    if os.environ.get("CAT_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "proctor-section-clock.png"))


def test_a_locked_out_seat_shows_a_lock_and_the_proctor_lifts_it_from_the_panel(
    browser, timed_room
):
    """Issue 16: five wrong PINs at PC-02's workstation; the proctor unlocks it with a reason."""
    import requests
    from playwright.sync_api import expect

    from tests.live import http_login

    server = timed_room
    url = f"{server.url}/exam/{server.sitting_id}/"
    workstation = requests.Session()
    for i in range(5):
        wrong = http_login(workstation, url, {"registration_no": "R2", "pin": f"90000{i}"})
        assert wrong.status_code == 401
    assert http_login(workstation, url, {"registration_no": "R2", "pin": PIN}).status_code == 429

    page = console(browser, server, 1366, 768)
    tile = page.get_by_test_id("seat-PC-02")
    expect(tile.locator(".seat-flags .icon-locked_out")).to_have_attribute(
        "aria-label", "login terkunci: PIN salah berulang"
    )
    tile.click()
    expect(page.get_by_test_id("panel-lockout")).to_contain_text("PIN salah 5×")
    page.get_by_test_id("lift-lockout").click()
    page.get_by_test_id("action-reason").fill("Peserta salah ketik, kartu peserta dicek")
    page.get_by_test_id("action-submit").click()
    expect(tile.locator(".seat-flags .icon-locked_out")).to_have_count(0)
    expect(page.get_by_test_id("lift-lockout")).to_be_hidden()
    assert http_login(workstation, url, {"registration_no": "R2", "pin": PIN}).status_code == 302


ROOM_SIZES = [pytest.param((1366, 768), id="1366x768"), pytest.param((1920, 1080), id="1920x1080")]


def outside(box, view):
    return (
        box["x"] < 0
        or box["y"] < 0
        or box["x"] + box["width"] > view["width"] + 0.5
        or box["y"] + box["height"] > view["height"] + 0.5
    )


@pytest.mark.parametrize("size", ROOM_SIZES)
def test_room_mode_shows_all_300_seats_their_state_and_the_counts_on_one_screen(
    browser, big_room, size
):
    """Issue 19: the wall display. Every tile whole on the screen, no scrolling, its status as a
    fill colour and a shape, the seat number readable from 3 m, the counts in view; the seat
    panel never covers the tile it is about."""
    from playwright.sync_api import expect

    server = big_room
    width, height = size
    page = console(browser, server, width, height)
    expect(page.locator(".seat")).to_have_count(N_SEATS)
    page.get_by_test_id("view-room").click()
    expect(page.get_by_test_id("view-room")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(300)
    scroll = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]"
    )
    assert scroll == [width, height], f"room mode scrolls: {scroll}"
    view = {"width": width, "height": height}
    tiles = page.evaluate("""() => [...document.querySelectorAll('.seat')].map(t => {
        const b = t.getBoundingClientRect(), label = t.querySelector('.seat-label');
        const shape = t.querySelector('.seat-shape').getBoundingClientRect();
        return {id: t.dataset.testid, x: b.x, y: b.y, width: b.width, height: b.height,
                font: parseFloat(getComputedStyle(label).fontSize),
                labelCut: label.scrollWidth > label.clientWidth + 0.5,
                shape: shape.width, bg: getComputedStyle(t).backgroundColor};
    })""")
    off = [t["id"] for t in tiles if outside(t, view)]
    assert off == [], f"tiles off the screen: {off[:10]}"
    # readable from 3 m: 1 mm of text height a metre, ~14 px on a 1366x768 32" set
    assert min(t["font"] for t in tiles) >= 14
    assert [t["id"] for t in tiles if t["labelCut"]] == []
    assert min(t["shape"] for t in tiles) >= 13  # every state also a shape, not colour alone
    # each state its own fill and shape: answering, paused, disconnected, finished, absent
    fills = {
        status: page.evaluate(
            f"getComputedStyle(document.querySelector('.seat.st-{status}')).backgroundColor"
        )
        for status in ("answering", "paused", "disconnected", "finished", "absent")
    }
    assert len(set(fills.values())) == 5, fills
    shapes = {
        status: page.locator(f".seat.st-{status} .seat-shape use").first.get_attribute("href")
        for status in fills
    }
    assert len(set(shapes.values())) == 5, shapes
    for status in ("absent", "paused", "finished", "flagged"):
        count = page.get_by_test_id(f"count-{status}")
        expect(count).to_be_visible()
        assert not outside(count.bounding_box(), view)
    expect(page.get_by_test_id("count-paused")).to_have_text("3")
    expect(page.get_by_test_id("count-absent")).to_have_text("10")
    # a finished seat keeps no live-only flag ("too fast", idle, disconnected): nothing to do there
    live_only = page.evaluate("""() => [...document.querySelectorAll('.seat.st-finished .seat-flags')]
        .filter(f => /\\b(fast|idle|disconnected|help)\\b/.test(f.dataset.flags || '')).length""")
    assert live_only == 0
    if os.environ.get("CAT_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / f"proctor-room-300-{width}x{height}.png"))
    # the header stays one line, the sitting's actions in it behind "Tindakan sesi"
    menu = page.get_by_test_id("sitting-menu").bounding_box()
    room = page.get_by_test_id("view-room").bounding_box()
    assert abs(menu["y"] - room["y"]) < 8, "the header took a second line"
    page.get_by_test_id("sitting-menu").click()
    for action in ("pause-sitting", "extend-sitting", "note-sitting", "end-sitting"):
        assert not outside(page.get_by_test_id(action).bounding_box(), view), action
    if os.environ.get("CAT_SCREENSHOTS") and width == 1366:
        page.screenshot(path=str(SHOTS / "proctor-room-300-actions-1366x768.png"))
    page.keyboard.press("Escape")
    # the panel docks on the far side: the tile it is about stays in sight
    for seat in ("PC-01", "PC-20", "PC-150", "PC-300"):
        tile = page.get_by_test_id(f"seat-{seat}")
        tile.click()
        panel = page.get_by_test_id("seat-panel").bounding_box()
        box = tile.bounding_box()
        assert box["x"] + box["width"] <= panel["x"] or box["x"] >= panel["x"] + panel["width"], (
            f"the panel covers {seat}"
        )
        page.locator("#panel-close").click()
    assert_accessible(page, f"proctor room mode, 300 seats, {width}x{height}")
    # the choice holds for the next visit of this screen
    page.reload()
    expect(page.get_by_test_id("view-room")).to_have_attribute("aria-pressed", "true")


@pytest.mark.parametrize(
    "size", [(1280, 720), (1366, 768), (1920, 1080), (2560, 1440)], ids=lambda s: f"{s[0]}x{s[1]}"
)
def test_the_board_fits_any_16_9_screen_ranked_by_score(browser, big_room, size):
    from playwright.sync_api import expect

    server = big_room
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server.url}/board/{server.sitting_id}")
    rows = page.locator("#board-rows tr")
    expect(rows.first).to_be_visible()
    page.wait_for_timeout(300)
    scroll = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]"
    )
    assert scroll == [width, height], f"the board is cut off: {scroll}"
    # every cell whole and on the screen: no column cut at the right, no row under the edge
    cells = page.evaluate("""() => [...document.querySelectorAll('#board-thead th, #board-rows td')]
        .map(c => c.getBoundingClientRect()).filter(b => b.right > innerWidth + 0.5 || b.bottom > innerHeight + 0.5).length""")
    assert cells == 0
    n = rows.count()
    foot = page.locator(".board-foot").bounding_box()
    last = rows.last.bounding_box()
    assert last["y"] + last["height"] <= foot["y"] + 0.5
    assert foot["y"] - (last["y"] + last["height"]) < last["height"] * 1.5, "room for more rows"
    # ranked by total, the two that just finished highlighted where their score puts them
    # (tests/test_browser_console_walk.py: a new zero does not lead page 1)
    totals = [int(t) for t in rows.locator("td.c-total").all_inner_texts()[:n]]
    assert totals == sorted(totals, reverse=True)
    fresh = page.locator("#board-rows tr.fresh")
    for k in range(fresh.count()):
        expect(fresh.nth(k).locator(".new-badge")).to_have_text("BARU")
    # a running seat is never among the ranked rows, and never shows a score
    assert page.locator("#board-rows tr.st-in_progress").count() == 0
    expect(page.get_by_test_id("board-running")).to_have_text(
        re.compile(r"^26\d masih mengerjakan$")
    )
    if os.environ.get("CAT_SCREENSHOTS") and size in ((1280, 720), (1366, 768)):
        page.screenshot(path=str(SHOTS / f"board-{width}x{height}.png"))
    assert_accessible(page, f"score board at {width}x{height}")
    page.close()
