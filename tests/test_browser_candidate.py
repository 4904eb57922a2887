"""The candidate page as issue 19 asks for it, in Chromium at 1366x768, 1920x1080 and zoomed.

Zoom: Chromium's page zoom at Z % on a W x H screen lays the page out in a CSS
viewport of W/Z x H/Z pixels drawn at Z/100 device pixels per CSS pixel; a
context with ``viewport`` (W/Z, H/Z) and ``device_scale_factor`` Z/100 is that
same layout (``device_scale_factor`` alone only sharpens the pixels, it lays
nothing out differently). Screenshots go to $CAT_SCREENSHOT_DIR when set
(docs/screenshots), else to the test's tmp dir.
"""

# ruff: noqa: F811  (pytest fixtures imported by name)
from __future__ import annotations

import re

import pytest

from cat_server.extensions import db
from cat_server.models import Attempt, Candidate, Exam, ExamSection, Item
from tests.a11y import assert_accessible
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.test_browser_exam import (
    items_by_seq,
    keyboard_login,
    make_skd_sitting,
    proctor_call,
    shots,  # noqa: F401
    start_sitting,
    strip,
    tab_to,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def zoomed(percent, width=1366, height=768):
    """A context that lays the page out as Chromium zoomed to ``percent`` on that screen."""
    scale = percent / 100
    return {
        "viewport": {"width": round(width / scale), "height": round(height / scale)},
        "device_scale_factor": scale,
    }


# the two screens of the issue, and the first at 150 % zoom
SCREENS = {
    "1366x768": {"viewport": {"width": 1366, "height": 768}},
    "1920x1080": {"viewport": {"width": 1920, "height": 1080}},
    "zoom150": zoomed(150),
}


# Item HTML written straight into the database, past the importer: what the page
# shows must still be sanitised (exam/catalog.py public_item sanitises again).
HOSTILE_STEM = (
    "<p>Perhatikan tabel <b>jumlah pegawai</b> berikut.</p>"
    "<table><thead><tr><th>Tahun</th><th>Pegawai</th></tr></thead>"
    "<tbody><tr><td>2024</td><td>120</td></tr><tr><td>2025</td><td>135</td></tr></tbody></table>"
    '<script>window.__pwned = "script"</script>'
    '<img src="x" onerror="window.__pwned = \'onerror\'">'
    "<p>Berapa kenaikannya?</p>"
)
HOSTILE_OPTION = '<i>15</i> orang<img src="y" onerror="window.__pwned = \'option\'">'


def open_page(browser, server, screen, shot=None):  # noqa: F811
    page = browser.new_context(**screen).new_page()
    keyboard_login(page, server, shot=shot)
    return page


@pytest.fixture
def skd(app, db_url, tmp_path):
    """The SKD-style sitting (TWK 5 items with a pass mark, TKP 2) and an admin."""
    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=5, n_tkp=2)
        make_user(username="admin", role="admin")
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


def set_first_item_html(app):
    """Every TWK item gets the hostile stem (the page shows whichever comes first)."""
    with app.app_context():
        for item in db.session.execute(db.select(Item).where(Item.section == "TWK")).scalars():
            item.stem = HOSTILE_STEM
            options = list(item.options)
            options[0] = HOSTILE_OPTION
            item.options = options
        db.session.commit()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_item_html_renders_sanitised_and_like_the_admin_preview(app, browser, skd, shots, screen):  # noqa: F811
    from playwright.sync_api import expect

    set_first_item_html(app)
    page = open_page(browser, skd, SCREENS[screen])
    start_sitting(skd)
    stem = page.get_by_test_id("item-stem")
    expect(stem.locator("b")).to_have_text("jumlah pegawai")  # markup, not "<b>" as text
    expect(stem.locator("table tr")).to_have_count(3)
    expect(stem.locator("th").first).to_have_text("Tahun")
    expect(stem).not_to_contain_text("<")
    expect(page.get_by_test_id("option-A").locator("i")).to_have_text("15")
    page.wait_for_timeout(300)  # let any (refused) image error fire
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("[onerror], #item-stem script").count() == 0
    candidate_stem = stem.inner_html()
    candidate_option = page.get_by_test_id("option-A").locator(".option-text").inner_html()
    page.screenshot(path=str(shots / f"candidate-item-html-{screen}.png"))

    admin = browser.new_context(**SCREENS[screen]).new_page()
    admin.goto(f"{skd.url}/login")
    admin.fill("input[name=username]", "admin")
    admin.fill("input[name=password]", "rahasia-123")
    admin.click("button[type=submit]")
    with app.app_context():
        attempt = db.session.execute(db.select(Attempt)).scalar_one()
        first = items_by_seq(attempt.id)[1]
    admin.goto(f"{skd.url}/admin/items/{first.id}/preview")
    preview = admin.get_by_test_id("item-preview")
    expect(preview.get_by_test_id("item-stem")).to_be_visible()
    assert preview.get_by_test_id("item-stem").inner_html() == candidate_stem
    assert preview.locator(".option-text").first.inner_html() == candidate_option
    admin.wait_for_timeout(300)
    assert admin.evaluate("window.__pwned === undefined")
    # the same stylesheet lays the table out alike on both pages
    box = stem.locator("table").bounding_box()
    admin_box = preview.get_by_test_id("item-stem").locator("table").bounding_box()
    assert (
        abs(box["width"] - admin_box["width"]) < 1 and abs(box["height"] - admin_box["height"]) < 1
    )
    admin.screenshot(path=str(shots / f"admin-item-preview-{screen}.png"), full_page=True)
    admin.context.close()
    page.context.close()


@pytest.fixture
def unmarked(app, db_url, tmp_path):
    """The same sitting without any pass mark, and a 12-second exam: time runs out."""
    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=5, n_tkp=2, duration_s=12)
        for section in db.session.execute(db.select(ExamSection)).scalars():
            section.pass_mark = None
        db.session.execute(db.update(Exam).values(pass_total=None))
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_time_up_with_nothing_answered_and_no_pass_mark_says_so_without_a_verdict(
    browser,  # noqa: F811
    unmarked,
    shots,  # noqa: F811
    screen,
):
    from playwright.sync_api import expect

    page = open_page(browser, unmarked, SCREENS[screen])
    start_sitting(unmarked)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    expect(page.get_by_test_id("status-screen")).to_have_attribute(
        "data-status", "finished", timeout=30000
    )
    expect(page.get_by_test_id("finish-reason")).to_have_text("Waktu ujian telah habis.")
    expect(page.get_by_test_id("finish-count")).to_have_text(
        "Terjawab 0 dari 7 soal. 7 soal tidak dijawab."
    )
    expect(page.get_by_test_id("result-total")).to_have_text("0")
    expect(page.locator("#screen-finished")).not_to_contain_text("LULUS")
    expect(page.locator("#screen-finished")).not_to_contain_text("Semua soal")
    expect(page.get_by_test_id("result-passed")).to_be_hidden()  # no pass mark: no verdict column
    assert_accessible(page, "candidate result")
    page.screenshot(path=str(shots / f"candidate-result-time-up-{screen}.png"))
    page.context.close()


def test_ended_by_the_proctor_says_how_many_were_answered_with_the_verdict(
    app, browser, skd, shots
):  # noqa: F811
    from playwright.sync_api import expect

    page = open_page(browser, skd, SCREENS["1366x768"])
    start_sitting(skd)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    page.keyboard.press("A")
    wait_saved(page)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 2 dari 5")
    page.keyboard.press("B")
    wait_saved(page)
    with app.app_context():
        candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
    assert proctor_call(skd, "end_attempt", candidate=candidate, reason="sakit") == {"ok": True}
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    expect(page.get_by_test_id("finish-reason")).to_have_text("Ujian diakhiri oleh pengawas.")
    expect(page.get_by_test_id("finish-count")).to_have_text(
        "Terjawab 2 dari 7 soal. 5 soal tidak dijawab."
    )
    # TKP never begun: 0 of its pass mark 6, so the whole exam is not passed
    expect(page.get_by_test_id("result-passed")).to_have_text("TIDAK LULUS")
    # no "Minta bantuan" on the end screen: a finished seat's call would reach no console
    expect(page.get_by_test_id("help-button")).to_be_hidden()
    page.screenshot(path=str(shots / "candidate-result-ended-by-proctor.png"))
    page.context.close()


def focused(page):
    return page.evaluate("document.activeElement && document.activeElement.dataset.testid")


@pytest.mark.parametrize("screen", list(SCREENS))
def test_finishing_the_last_section_says_it_ends_the_exam_and_reviews_what_is_left(
    browser, skd, shots, screen
):
    from playwright.sync_api import expect

    page = open_page(browser, skd, SCREENS[screen])
    start_sitting(skd)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    page.keyboard.press("A")
    wait_saved(page)
    page.keyboard.press("s")
    dialog = page.get_by_test_id("finish-dialog")
    expect(dialog).to_be_visible()
    # not the last section: the ordinary question, no "ends the exam"
    expect(page.get_by_test_id("finish-dialog-title")).to_have_text("Selesaikan bagian ini?")
    expect(page.get_by_test_id("finish-dialog-last")).to_be_hidden()
    expect(page.get_by_test_id("review-unanswered").locator("button")).to_have_count(4)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("section-tab-TKP")).to_have_attribute("data-status", "current")

    page.keyboard.press("C")
    wait_saved(page)
    page.keyboard.press("r")  # item 1 of TKP marked for review
    page.keyboard.press("s")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("finish-dialog-title")).to_have_text("Akhiri seluruh ujian?")
    expect(page.get_by_test_id("finish-dialog-last")).to_be_visible()
    expect(page.get_by_test_id("finish-dialog-last")).to_contain_text("mengakhiri seluruh ujian")
    expect(page.get_by_test_id("finish-confirm")).to_have_text("Ya, akhiri ujian")
    expect(page.get_by_test_id("review-unanswered-2")).to_be_visible()
    expect(page.get_by_test_id("review-marked-1")).to_be_visible()
    # the whole exam, not only this section: TWK was closed with 4 of 5 blank
    twk, tkp = (page.get_by_test_id(f"finish-summary-{code}") for code in ("TWK", "TKP"))
    expect(twk.locator("td")).to_have_text(["1 dari 5", "4", "0", "Ditutup, tidak dapat diubah"])
    expect(twk.locator("button, a")).to_have_count(0)  # closed: nothing that looks openable
    expect(tkp.locator("td")).to_have_text(["1 dari 2", "1", "1", "Bagian ini"])
    expect(page.get_by_test_id("finish-summary-answered")).to_have_text("2 dari 7")
    expect(page.get_by_test_id("finish-summary-blank")).to_have_text("5")
    page.screenshot(path=str(shots / f"candidate-finish-last-section-{screen}.png"))
    assert_accessible(page, "candidate review (finish dialog)")

    # one press on an unanswered number: the dialog closes on that item, ready for keys
    page.get_by_test_id("review-unanswered-2").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("progress")).to_have_text("Soal 2 dari 2")
    assert focused(page) == "item-number"
    page.keyboard.press("B")
    wait_saved(page)
    expect(page.get_by_test_id("option-B")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("s")
    expect(page.get_by_test_id("review-unanswered").locator("button")).to_have_count(0)
    expect(page.get_by_test_id("finish-summary-answered")).to_have_text("3 dari 7")
    expect(twk.locator("td").first).to_have_text("1 dari 5")
    expect(page.get_by_test_id("review-marked-1")).to_be_visible()
    page.keyboard.press("Tab")
    assert focused(page) == "finish-confirm"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    expect(page.get_by_test_id("finish-reason")).to_have_text("Anda telah menyelesaikan ujian.")
    expect(page.get_by_test_id("finish-count")).to_have_text(
        "Terjawab 3 dari 7 soal. 4 soal tidak dijawab."
    )
    page.context.close()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_after_a_strip_number_the_focus_is_on_the_item_and_enter_moves_on(browser, skd, screen):
    from playwright.sync_api import expect

    page = open_page(browser, skd, SCREENS[screen])
    start_sitting(skd)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    assert focused(page) == "item-number"  # keys work from the first item on

    # keyboard only: Tab to number 3, Enter opens it; the focus is then in the item
    tab_to(page, "strip-3")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 3 dari 5")
    assert focused(page) == "item-number"
    page.keyboard.press("B")
    expect(page.get_by_test_id("option-B")).to_have_attribute("aria-checked", "true")
    wait_saved(page)
    page.keyboard.press("Enter")  # moves on, never reopens 3
    expect(page.get_by_test_id("progress")).to_have_text("Soal 4 dari 5")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 5 dari 5")

    # a letter while the focus rests on a strip number answers nothing
    tab_to(page, "strip-2")
    page.keyboard.press("C")
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("option-C")).to_have_attribute("aria-checked", "false")
    expect(strip(page, 5)).to_have_attribute("data-state", "unanswered")
    expect(page.get_by_test_id("section-answered")).to_have_text("1 dari 5 terjawab")

    # the mouse on a number, then the keyboard: Enter moves on from there
    strip(page, 1).click()
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    assert focused(page) == "item-number"
    page.keyboard.press("D")
    expect(page.get_by_test_id("option-D")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 2 dari 5")
    # Berikutnya and Ragu-ragu by mouse hand the focus back to the item too
    page.get_by_test_id("mark-item").click()
    assert focused(page) == "item-number"
    page.get_by_test_id("next-item").click()
    assert focused(page) == "item-number"
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 4 dari 5")
    expect(page.get_by_test_id("section-answered")).to_have_text("2 dari 5 terjawab")
    expect(strip(page, 2)).to_have_attribute("data-state", "unanswered marked")
    page.context.close()


def style_of(locator, prop, pseudo=None):
    return locator.evaluate(
        "(node, [prop, pseudo]) => getComputedStyle(node, pseudo).getPropertyValue(prop)",
        [prop, pseudo],
    )


@pytest.mark.parametrize("screen", list(SCREENS))
def test_hover_never_looks_chosen_and_unanswered_is_not_saved_green(browser, skd, shots, screen):
    from playwright.sync_api import expect

    page = open_page(browser, skd, SCREENS[screen])
    start_sitting(skd)
    saving = page.get_by_test_id("nav-saving")
    expect(saving).to_have_text("Belum dijawab")
    unanswered_colour = style_of(saving, "color")
    page.keyboard.press("A")
    wait_saved(page)
    saved_colour = style_of(saving, "color")
    assert unanswered_colour != saved_colour
    assert style_of(saving, "content", "::before") != "none"  # the tick says "saved" too

    chosen, hovered, plain = (page.get_by_test_id(f"option-{x}") for x in "ABC")
    hovered.hover()
    for prop in ("background-color", "border-top-color", "box-shadow"):
        assert style_of(hovered, prop) != style_of(chosen, prop), prop
    assert style_of(hovered, "border-top-color") != style_of(plain, "border-top-color")
    assert style_of(chosen, "content", "::after") != "none"  # the tick
    assert style_of(hovered, "content", "::after") == "none"
    label = chosen.locator(".option-label")
    assert style_of(label, "background-color") != style_of(
        hovered.locator(".option-label"), "background-color"
    )
    page.screenshot(path=str(shots / f"candidate-chosen-and-hover-{screen}.png"))
    page.context.close()


@pytest.fixture
def timed(app, db_url, tmp_path):
    """The SKD sitting whose TWK section has a clock of its own (10 minutes)."""
    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=5, n_tkp=2)
        section = db.session.execute(db.select(ExamSection).filter_by(code="TWK")).scalar_one()
        section.time_limit_min = 10
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


def in_view(page, locator):
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


@pytest.mark.parametrize("screen", list(SCREENS))
def test_a_banner_never_moves_the_item_and_both_clocks_stay_labelled_on_screen(
    app, browser, timed, shots, screen
):
    from playwright.sync_api import expect

    page = open_page(browser, timed, SCREENS[screen])
    start_sitting(timed)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    expect(page.get_by_test_id("countdown-label")).to_have_text("Waktu bagian ini")
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^(10:00|09:5\d)$"))
    expect(page.get_by_test_id("exam-clock")).to_contain_text("Waktu ujian")
    expect(page.get_by_test_id("exam-countdown")).to_have_text(re.compile(r"^(30:00|29:5\d)$"))

    stem, options = page.get_by_test_id("item-stem"), page.get_by_test_id("option-A")
    before = (stem.bounding_box(), options.bounding_box())
    with app.app_context():
        candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
    ack = proctor_call(timed, "extend_seat", candidate=candidate, minutes=5, reason="listrik")
    assert ack == {"ok": True}, ack
    banner = page.get_by_test_id("time-warning")
    expect(banner).to_contain_text("Waktu ditambah 5 menit oleh pengawas")
    assert (stem.bounding_box(), options.bounding_box()) == before  # not a pixel moved
    for code in ("TWK", "TKP"):  # beside the section tabs, never over them
        assert not hidden_under(page, page.get_by_test_id(f"section-tab-{code}")), code
    page.screenshot(path=str(shots / f"candidate-time-added-{screen}.png"))
    banner.get_by_role("button").click()
    expect(banner).to_be_hidden()
    assert (stem.bounding_box(), options.bounding_box()) == before

    # scrolled to the end of the item: both clocks and their labels still on screen
    page.get_by_test_id("option-E").scroll_into_view_if_needed()
    page.mouse.wheel(0, 2000)
    page.wait_for_timeout(200)
    for testid in ("countdown", "countdown-label", "exam-countdown", "exam-clock"):
        assert in_view(page, page.get_by_test_id(testid)), testid
    page.screenshot(path=str(shots / f"candidate-clocks-scrolled-{screen}.png"))
    page.context.close()


def hidden_under(page, locator):
    """What covers the element across its middle line (None: it is in sight)."""
    return locator.evaluate(
        """(node) => {
            const box = node.getBoundingClientRect();
            const y = box.top + box.height / 2, r = Math.min(box.height / 2, box.width / 4);
            const points = [[box.left + box.width / 2, y], [box.left + r, y], [box.right - r, y]];
            for (const [x, y] of points) {
                const top = document.elementFromPoint(x, y);
                if (!top || !(node === top || node.contains(top))) return top ? top.id || top.className : 'off screen';
            }
            return null;
        }"""
    )


HELP_SCREENS = {
    "1366x768": SCREENS["1366x768"],
    "1024x768": {"viewport": {"width": 1024, "height": 768}},
    "zoom150": SCREENS["zoom150"],
}


def overlaps(page, testid, others):
    """The test ids among ``others`` whose boxes intersect the element's (none: it covers nothing)."""
    box = page.get_by_test_id(testid).bounding_box()
    hit = []
    for other in others:
        o = page.get_by_test_id(other).bounding_box()
        if o and box["x"] < o["x"] + o["width"] and o["x"] < box["x"] + box["width"]:
            if box["y"] < o["y"] + o["height"] and o["y"] < box["y"] + box["height"]:
                hit.append(other)
    return hit


# what a banner must never cover (issue 19, c05/c09/c24/c38 of the outsider's walk)
UNCOVERED = ("item-stem", "option-A", "section-name", "progress", "section-tabs")


@pytest.mark.parametrize("screen", list(HELP_SCREENS))
def test_the_candidate_is_told_a_help_call_was_answered_and_no_banner_moves_the_item(
    app, browser, skd, shots, screen
):
    from playwright.sync_api import expect

    page = open_page(browser, skd, HELP_SCREENS[screen])
    start_sitting(skd)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    parts = [page.get_by_test_id(t) for t in ("item-stem", "option-A", "option-E", "section-tabs")]

    def boxes():
        return [p.bounding_box() for p in parts]

    before = boxes()
    button, status = page.get_by_test_id("help-button"), page.get_by_test_id("help-status")
    button.click()
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
    expect(button).to_be_disabled()
    assert boxes() == before  # the call's banner moves nothing
    assert not hidden_under(page, page.get_by_test_id("section-tab-TWK"))
    assert overlaps(page, "help-banner", UNCOVERED) == []  # ... and covers nothing
    for testid in ("item-stem", "section-name", "progress"):
        assert not hidden_under(page, page.get_by_test_id(testid)), testid
    page.screenshot(path=str(shots / f"candidate-help-called-{screen}.png"))

    with app.app_context():
        candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
    ack = proctor_call(skd, "acknowledge", candidate=candidate, flag="help")
    assert ack["ok"] is True, ack
    expect(status).to_have_text("Pengawas sudah melihat permintaan Anda.")
    expect(button).to_be_enabled()  # the button is back at once, not after its quiet minute
    assert boxes() == before
    assert overlaps(page, "help-banner", UNCOVERED) == []
    assert_accessible(page, "candidate help answered", scrolled_under=(".topbar", "#nav-actions"))
    page.screenshot(path=str(shots / f"candidate-help-answered-{screen}.png"))
    # a second press is a new call, lit again on the consoles
    page.keyboard.press("Alt+B")
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
    assert boxes() == before
    page.context.close()


def test_the_help_banners_clear_by_themselves_close_by_keyboard_and_never_outlive_the_exam(
    app, browser, skd, shots
):  # noqa: F811
    from playwright.sync_api import expect

    page = open_page(browser, skd, HELP_SCREENS["1024x768"])
    start_sitting(skd)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    with app.app_context():
        candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
    banner, status = page.get_by_test_id("help-banner"), page.get_by_test_id("help-status")

    # the proctor's "seen" clears itself after about ten seconds
    page.keyboard.press("Alt+B")
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
    assert proctor_call(skd, "acknowledge", candidate=candidate, flag="help")["ok"] is True
    expect(status).to_have_text("Pengawas sudah melihat permintaan Anda.")
    page.wait_for_timeout(7000)
    expect(banner).to_be_visible()  # long enough to be read ...
    expect(banner).to_be_hidden(timeout=6000)  # ... then gone, 10 s after it came

    # and either banner closes from the keyboard
    page.keyboard.press("Alt+B")
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
    tab_to(page, "help-close")
    expect(page.get_by_test_id("help-close")).to_have_text("Tutup")
    page.keyboard.press("Enter")
    expect(banner).to_be_hidden()
    assert focused(page) == "item-number"  # the keys answer again at once
    page.keyboard.press("A")
    expect(page.get_by_test_id("option-A")).to_have_attribute("aria-checked", "true")

    # a call still open when the exam ends: the end screen promises no proctor
    assert proctor_call(skd, "acknowledge", candidate=candidate, flag="help")["ok"] is True
    page.keyboard.press("Alt+B")
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
    assert (
        proctor_call(skd, "pause_seat", candidate=candidate, reason="listrik padam")["ok"] is True
    )
    expect(page.get_by_test_id("paused")).to_be_visible()
    expect(status).to_be_visible()  # a pause keeps it: the proctor is still coming
    assert proctor_call(skd, "end_attempt", candidate=candidate, reason="sakit") == {"ok": True}
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    expect(banner).to_be_hidden()
    expect(page.locator("#exam-banners .banner:visible")).to_have_count(0)
    page.screenshot(path=str(shots / "candidate-end-no-help-banner-1024.png"))
    page.context.close()


def test_a_reloaded_page_keeps_its_waiting_call_and_learns_an_answer_that_came_while_away(
    app, browser, skd
):  # noqa: F811
    """Issue 19 leftovers, defect 2: the call's banner and resting button survive a reload, and
    a page that was away when the proctor answered says so when it is back (once)."""
    from playwright.sync_api import expect

    page = open_page(browser, skd, HELP_SCREENS["1024x768"])
    start_sitting(skd)
    progress = page.get_by_test_id("progress")
    expect(progress).to_have_text("Soal 1 dari 5")
    exam_url = page.url
    button, status = page.get_by_test_id("help-button"), page.get_by_test_id("help-status")
    banner = page.get_by_test_id("help-banner")
    button.click()
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")

    page.reload()  # the call still waits: the page says so and the button still rests
    expect(progress).to_have_text("Soal 1 dari 5")
    expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
    expect(banner).to_be_visible()
    expect(button).to_be_disabled()

    page.goto("about:blank")  # away (a reload, a crash of the tab) when the proctor comes
    with app.app_context():
        candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
    assert proctor_call(skd, "acknowledge", candidate=candidate, flag="help")["ok"] is True
    page.goto(exam_url)
    expect(status).to_have_text("Pengawas sudah melihat permintaan Anda.")
    expect(banner).to_be_visible()
    expect(button).to_be_enabled()

    page.reload()  # said once: the next load has nothing to say
    expect(progress).to_have_text("Soal 1 dari 5")
    page.wait_for_timeout(500)
    expect(banner).to_be_hidden()
    expect(button).to_be_enabled()
    page.context.close()


def test_a_page_cut_off_when_its_call_is_answered_says_so_when_it_is_back(app, browser, skd):  # noqa: F811
    """Issue 19 leftovers, defect 2, without a reload: the network drops while the call waits,
    the proctor answers meanwhile; the page's socket comes back and the page says so."""
    from types import SimpleNamespace

    from playwright.sync_api import expect

    from tests.netproxy import TcpProxy

    proxy = TcpProxy(skd.port).start()
    through = SimpleNamespace(url=proxy.url, sitting_id=skd.sitting_id)
    try:
        page = open_page(browser, through, HELP_SCREENS["1024x768"])
        start_sitting(skd)
        expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
        status = page.get_by_test_id("help-status")
        page.keyboard.press("Alt+B")
        expect(status).to_have_text("Pengawas dipanggil — mohon tunggu di tempat.")
        proxy.cut("reset")
        expect(page.get_by_test_id("offline-banner")).to_be_visible(timeout=15000)
        with app.app_context():
            candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
        assert proctor_call(skd, "acknowledge", candidate=candidate, flag="help")["ok"] is True
        proxy.restore()
        expect(page.get_by_test_id("offline-banner")).to_be_hidden(timeout=30000)
        expect(status).to_have_text("Pengawas sudah melihat permintaan Anda.")
        expect(page.get_by_test_id("help-button")).to_be_enabled()
        page.context.close()
    finally:
        proxy.close()


def clipped(page, testid):
    """How many pixels of the banner's text its box does not show (0: all of it in sight)."""
    return page.get_by_test_id(testid).evaluate(
        "(node) => Math.max(node.scrollHeight - node.clientHeight, node.scrollWidth - node.clientWidth)"
    )


@pytest.mark.parametrize("screen", ["1024x768", "zoom150"])
def test_banners_that_wrap_never_move_the_item(app, browser, skd, shots, screen):  # noqa: F811
    """Issue 19 leftovers, defect 3: the network drops while a help call and a time notice
    show: three banners, the offline one long enough to wrap at 1024 px; the item stays put,
    nothing it shows is covered and every banner's text can be read."""
    from types import SimpleNamespace

    from playwright.sync_api import expect

    from tests.netproxy import TcpProxy

    proxy = TcpProxy(skd.port).start()
    through = SimpleNamespace(url=proxy.url, sitting_id=skd.sitting_id)
    try:
        page = open_page(browser, through, HELP_SCREENS[screen])
        start_sitting(skd)
        expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
        parts = [page.get_by_test_id(t) for t in ("item-stem", "option-A", "section-tabs")]

        def boxes():
            return [p.bounding_box() for p in parts]

        before = boxes()
        page.get_by_test_id("help-button").click()
        expect(page.get_by_test_id("help-status")).to_have_text(
            "Pengawas dipanggil — mohon tunggu di tempat."
        )
        with app.app_context():
            candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
        assert proctor_call(skd, "extend_seat", candidate=candidate, minutes=5, reason="x") == {
            "ok": True
        }
        expect(page.get_by_test_id("time-warning")).to_contain_text("Waktu ditambah 5 menit")
        # both wrap to two lines at 1024 px: they grew the row and moved the item by 8.8 px
        assert boxes() == before, "two banners moved the item"
        assert [clipped(page, t) <= 1 for t in ("time-warning", "help-banner")] == [True, True]
        proxy.cut("reset")
        offline = page.get_by_test_id("offline-banner")
        expect(offline).to_be_visible(timeout=15000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(shots / f"candidate-three-banners-{screen}.png"))
        assert boxes() == before, "the wrapping banners moved the item"
        assert overlaps(page, "offline-banner", UNCOVERED) == []
        assert overlaps(page, "help-banner", UNCOVERED) == []
        for testid in ("offline-banner", "time-warning", "help-banner"):
            assert clipped(page, testid) <= 1, testid
        proxy.restore()
        expect(offline).to_be_hidden(timeout=30000)
        assert boxes() == before
        page.context.close()
    finally:
        proxy.close()


@pytest.fixture
def skd_long(app, db_url, tmp_path):
    """The SKD-style sitting at its real length for the last section: TWK 30, TKP 45."""
    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=30, n_tkp=45)
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


DIALOG_SCREENS = {
    "1366x768": SCREENS["1366x768"],
    "1024x768": HELP_SCREENS["1024x768"],
    "zoom150": SCREENS["zoom150"],
}


@pytest.mark.parametrize("screen", list(DIALOG_SCREENS))
def test_the_last_sections_dialog_keeps_its_buttons_on_screen(browser, skd_long, shots, screen):
    from playwright.sync_api import expect

    page = open_page(browser, skd_long, DIALOG_SCREENS[screen])
    start_sitting(skd_long)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 30")
    page.keyboard.press("s")
    page.get_by_test_id("finish-confirm").click()
    expect(page.get_by_test_id("section-tab-TKP")).to_have_attribute("data-status", "current")
    page.keyboard.press("s")
    expect(page.get_by_test_id("finish-exam-summary")).to_be_visible()
    height = page.viewport_size["height"]
    for testid in ("finish-cancel", "finish-confirm"):  # whole, without any scrolling
        box = page.get_by_test_id(testid).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, (testid, box, height)
        assert not hidden_under(page, page.get_by_test_id(testid)), testid
    expect(page.get_by_test_id("finish-dialog-title")).to_be_in_viewport()
    page.screenshot(path=str(shots / f"candidate-finish-last-long-{screen}.png"))
    # the body scrolls to its end and the buttons stay where they were
    before = page.get_by_test_id("finish-confirm").bounding_box()
    page.get_by_test_id("finish-dialog-body").evaluate("(node) => { node.scrollTop = 1e6; }")
    assert page.get_by_test_id("finish-confirm").bounding_box() == before
    page.context.close()


def settled_visible(page, locator, timeout_ms=3000):
    """``fully_visible`` once the page's scrolling has settled (a loaded box scrolls late)."""
    for _ in range(timeout_ms // 100):
        if fully_visible(page, locator):
            return True
        page.wait_for_timeout(100)
    return fully_visible(page, locator)


def fully_visible(page, locator):
    """The element lies between the sticky header and the sticky button bar (either one)."""
    return page.evaluate(
        """(node) => {
            const box = node.getBoundingClientRect();
            const top = document.querySelector('.topbar').getBoundingClientRect().bottom;
            const nav = document.getElementById('nav-actions');
            const bar = (nav.hidden ? document.getElementById('linear-actions') : nav)
                .getBoundingClientRect().top;
            return box.top >= top - 0.5 && box.bottom <= bar + 0.5;
        }""",
        locator.element_handle(),
    )


def pill_in_bar(page, bar):
    """ "More options below" lies inside the sticky button bar, so it covers no option.

    (An option under the bar is covered by the bar, not by the hint: it scrolls.)
    """
    pill = page.get_by_test_id("more-below").bounding_box()
    box = page.locator(f"#{bar}").bounding_box()
    return (
        box["y"] - 0.5 <= pill["y"] and pill["y"] + pill["height"] <= box["y"] + box["height"] + 0.5
    )


@pytest.mark.parametrize("percent", [100, 125, 150, 175, 200])
def test_every_option_can_be_seen_at_100_to_200_percent_zoom(browser, skd, shots, percent):
    from playwright.sync_api import expect

    page = open_page(browser, skd, zoomed(percent))
    start_sitting(skd)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    last = page.get_by_test_id("option-E")
    # the hint is there exactly while E is not fully in sight
    expect(page.get_by_test_id("more-below")).to_be_visible(visible=not fully_visible(page, last))
    if percent == 150:
        page.screenshot(path=str(shots / "candidate-zoom-150-hint.png"))
        assert pill_in_bar(page, "nav-actions")  # over no option (c33, c38)
    for letter in "ABCDE":  # chosen by key: scrolled clear of the header and the bar
        page.keyboard.press(letter)
        option = page.get_by_test_id(f"option-{letter}")
        expect(option).to_have_attribute("aria-checked", "true")
        assert settled_visible(page, option), f"{letter} at {percent} %"
    expect(page.get_by_test_id("more-below")).to_be_hidden()
    page.screenshot(path=str(shots / f"candidate-zoom-{percent}.png"))
    page.mouse.wheel(0, -3000)
    # and reached with Tab alone, from the top and back up from the bottom
    for letter in "ABCDE":
        tab_to(page, f"option-{letter}")
        assert settled_visible(page, page.get_by_test_id(f"option-{letter}")), f"Tab {letter}"
    page.mouse.wheel(0, 3000)
    for letter in "DCBA":
        page.keyboard.press("Shift+Tab")
        assert focused(page) == f"option-{letter}"
        assert settled_visible(page, page.get_by_test_id(f"option-{letter}")), f"Shift+Tab {letter}"
    page.context.close()


@pytest.fixture
def adaptive(app, db_url, tmp_path):
    """One adaptive section of 3 items (tests/test_browser_exam.py make_adaptive_sitting)."""
    from tests.test_browser_exam import make_adaptive_sitting

    with app.app_context():
        sitting_id = make_adaptive_sitting()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


@pytest.mark.parametrize("percent", [150, 200])
def test_an_adaptive_item_zoomed_in_keeps_its_send_button_and_says_what_is_below(
    browser, adaptive, shots, percent
):
    from playwright.sync_api import expect

    page = open_page(browser, adaptive, zoomed(percent))
    start_sitting(adaptive)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 (maks. 3)")
    submit, last = page.get_by_test_id("submit-answer"), page.get_by_test_id("option-E")
    assert in_view(page, submit)  # "Jawab & lanjut" on screen before any scrolling
    assert not fully_visible(page, last)  # zoomed in, E is below ...
    expect(page.get_by_test_id("more-below")).to_be_visible()  # ... and the page says so
    assert in_view(page, page.get_by_test_id("more-below"))
    assert pill_in_bar(page, "linear-actions")  # over no option
    if percent == 150:
        page.screenshot(path=str(shots / "candidate-zoom-150-adaptive.png"))
    for letter in "ABCDE":
        page.keyboard.press(letter)
        option = page.get_by_test_id(f"option-{letter}")
        expect(option).to_have_attribute("aria-checked", "true")
        assert settled_visible(page, option), f"{letter} at {percent} %"
        assert in_view(page, submit), letter
    expect(page.get_by_test_id("more-below")).to_be_hidden()
    page.mouse.wheel(0, -3000)
    for letter in "ABCDE":  # Tab alone reaches every option, in sight
        tab_to(page, f"option-{letter}")
        assert settled_visible(page, page.get_by_test_id(f"option-{letter}")), f"Tab {letter}"
    tab_to(page, "submit-answer")
    assert in_view(page, submit)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 2 (maks. 3)")
    page.context.close()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_options_are_named_a_dot_text_and_axe_finds_nothing_serious(
    app, browser, skd, shots, screen
):
    from playwright.sync_api import expect

    page = browser.new_context(**(SCREENS[screen])).new_page()
    page.goto(f"{skd.url}/exam/{skd.sitting_id}/")
    assert_accessible(page, "candidate login")
    keyboard_login(page, skd)
    assert_accessible(page, "candidate waiting")
    start_sitting(skd)
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 5")
    with app.app_context():
        attempt = db.session.execute(db.select(Attempt)).scalar_one()
        first = items_by_seq(attempt.id)[1]
    for label, text in zip("ABCDE", first.options, strict=False):
        option = page.get_by_test_id(f"option-{label}")
        expect(option).to_have_accessible_name(f"{label}. {text}")
        expect(page.get_by_role("radio", name=f"{label}. {text}", exact=True)).to_have_count(1)
    # zoomed, the lower options scroll under the sticky button bar (and, scrolled,
    # the upper ones under the header): test_every_option_can_be_seen_... shows
    # each can be brought clear; axe's "partially obscured" there is a scroll position
    sticky = (".topbar", "#nav-actions", "#more-below")
    assert_accessible(page, "candidate item", scrolled_under=sticky)
    page.keyboard.press("B")
    wait_saved(page)
    expect(page.get_by_role("radio", name=f"B. {first.options[1]}")).to_be_checked()
    assert_accessible(page, "candidate item, answered", scrolled_under=sticky)
    page.context.close()


@pytest.fixture
def inline_images(app, db_url, tmp_path):
    """The SKD sitting whose TWK stems hold an inline chart from the bank's media folder."""
    from tests.test_browser_section_media import RICE, bar_chart_png

    media = tmp_path / "media"
    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=5, n_tkp=2)
        for item in db.session.execute(db.select(Item).where(Item.section == "TWK")).scalars():
            item.stem = (
                '<p>Produksi beras 2021–2025:</p><img src="media/grafik.png" alt="Grafik produksi">'
                '<img src="https://contoh.invalid/x.png" alt="luar">'
                '<img src="//contoh.invalid/y.png" alt="luar 2"><img src="../bank-1/z.png" alt="naik">'
                "<p>Tahun berapa produksi tertinggi?</p>"
            )
            folder = media / f"bank-{item.bank_id}" / "media"
        db.session.commit()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grafik.png").write_bytes(bar_chart_png(RICE))
    live = LiveServer(db_url, tmp_path / "server.log", MEDIA_DIR=str(media)).start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


@pytest.mark.parametrize("screen", ["1366x768"])
def test_an_inline_image_in_item_html_shows_from_the_banks_media_only(
    app, browser, inline_images, shots, screen
):
    import requests
    from playwright.sync_api import expect

    page = open_page(browser, inline_images, SCREENS[screen])
    start_sitting(inline_images)
    stem = page.get_by_test_id("item-stem")
    chart = stem.get_by_role("img", name="Grafik produksi")
    expect(chart).to_be_visible()
    with app.app_context():
        attempt = db.session.execute(db.select(Attempt)).scalar_one()
        first = items_by_seq(attempt.id)[1]
    # served by its place in the item, never by its path in the bank
    expect(chart).to_have_attribute("src", f"/exam/media/{first.id}/0")
    expect(chart).to_have_js_property("complete", True)
    assert chart.evaluate("(img) => img.naturalWidth") == 520  # loaded, not a broken icon
    assert "grafik.png" not in page.content()
    # another site, a scheme-relative URL or a way out of the bank's folder: no source at all
    for name in ("luar", "luar 2", "naik"):
        assert stem.get_by_role("img", name=name, exact=True).get_attribute("src") is None, name
    page.screenshot(path=str(shots / "candidate-item-inline-image.png"))
    # the same URL for a browser with no running attempt: refused
    assert requests.get(f"{inline_images.url}/exam/media/{first.id}/0", timeout=10).status_code in (
        403,
        404,
    )
    # an image the item does not have
    response = page.request.get(f"{inline_images.url}/exam/media/{first.id}/1")
    assert response.status == 404
    page.context.close()
