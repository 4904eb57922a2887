"""Chromium at a workstation (1366x768): the whole demo SKD (110 items) with the keyboard only.

Issue #5's acceptance: the real "Sesi Demo 1" blueprint (TWK 30, TIU 35, TKP 45;
pass marks 65/80/166; navigable sections) on the demo bank, done in the browser
with A-E, Enter/arrows and Tab to the documented "Selesai bagian ini" button and
its confirm dialog (TWK, TIU), or its key S and the same dialog (TKP). The plan and the expected scores are test_demo_skd's, read
from the bank CSV: TWK 100 (pass), TIU 75 (fails 80), TKP 180 (pass), total 355,
not passed. One answer per section is changed on the way, so the database must
hold exactly one latest answer per item. SQLite only: the Socket.IO path is
covered on both databases by test_demo_skd; this one is about the page.
"""

from __future__ import annotations

import pytest

from cat_server.demo import BLUEPRINTS
from cat_server.extensions import db
from cat_server.models import Attempt, Response, Sitting
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.test_browser_exam import (  # noqa: F401  (shots: the screenshot fixture)
    VIEWPORT,
    finish_section_with_keyboard,
    finish_section_with_shortcut,
    items_by_seq,
    keyboard_login,
    shots,
    start_sitting,
    wait_saved,
)
from tests.test_demo_skd import SECTIONS, demo_bank_rows, demo_skd_sitting, planned_answer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = demo_skd_sitting()
        proctor = make_user()
        sitting = db.session.get(Sitting, sitting_id)
        sitting.proctors.append(proctor)  # who presses Start below
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_candidate_does_the_whole_demo_skd_with_the_keyboard_only(app, browser, demo, shots):  # noqa: F811
    from playwright.sync_api import expect

    bank = demo_bank_rows()
    page = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(page, demo, registration_no="202600000001")
    start_sitting(demo)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    with app.app_context():
        attempt_id = db.session.execute(db.select(Attempt.id)).scalar_one()

    planned = {}  # seq -> the choice that must be the latest stored answer
    expected = {}  # code -> score, computed from the bank file
    first_seq = 1
    for code, n_items, _pass_mark in SECTIONS:
        expect(page.get_by_test_id(f"section-tab-{code}")).to_have_attribute(
            "data-status", "current"
        )
        with app.app_context():
            items = {
                seq: (item.code, item.stem)
                for seq, item in items_by_seq(attempt_id).items()
                if seq >= first_seq
            }
        assert sorted(items) == list(range(first_seq, first_seq + n_items))
        score = 0
        for n in range(n_items):
            seq = first_seq + n
            item_code, stem = items[seq]
            row = bank[item_code]
            assert row["section"] == code
            expect(page.get_by_test_id("progress")).to_have_text(f"Soal {n + 1} dari {n_items}")
            expect(page.get_by_test_id("item-stem")).to_have_text(stem)
            choice, points = planned_answer(row, n)
            if n == 0:  # first another option, saved, then changed: two rows, one latest
                other = next(x for x in "EDCBA" if x != choice)
                page.keyboard.press(other)
                expect(page.get_by_test_id(f"option-{other}")).to_have_attribute(
                    "aria-checked", "true"
                )
                wait_saved(page)
            page.keyboard.press(choice if n % 3 else choice.lower())  # either case works
            expect(page.get_by_test_id(f"option-{choice}")).to_have_attribute(
                "aria-checked", "true"
            )
            planned[seq] = choice
            score += points
            if n < n_items - 1:
                page.keyboard.press("Enter" if n % 2 else "ArrowRight")
        expected[code] = score
        expect(page.get_by_test_id("all-answered")).to_be_visible()
        expect(page.get_by_test_id("section-answered")).to_have_text(
            f"{n_items} dari {n_items} terjawab"
        )
        wait_saved(page)
        if code == "TKP":  # the documented key S (asks first): no 55 Tab presses
            finish_section_with_shortcut(page, unanswered=0, marked=0)
        else:  # Tab passes the options, the buttons and every strip number
            finish_section_with_keyboard(page, unanswered=0, marked=0, tab_limit=n_items + 20)
        first_seq += n_items
    assert expected == {"TWK": 100, "TIU": 75, "TKP": 180}  # by hand, from the bank file

    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    names = [s["name"] for s in BLUEPRINTS["Sesi Demo 1"]["sections"]]
    rows = page.locator("#result-rows tr")
    expect(rows).to_have_count(3)
    shown = [
        [cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()] for i in range(3)
    ]
    assert shown == [
        [names[0], "100", "65", "LULUS"],
        [names[1], "75", "80", "TIDAK LULUS"],
        [names[2], "180", "166", "LULUS"],
    ]
    expect(page.get_by_test_id("result-total")).to_have_text("355")
    expect(page.locator("#result-passed")).to_have_text("TIDAK LULUS")  # TIU failed
    page.screenshot(path=str(shots / "candidate-result-skd-demo.png"), full_page=True)
    page.context.close()

    with app.app_context():
        responses = db.session.execute(
            db.select(Response.seq, Response.choice)
            .where(Response.attempt_id == attempt_id)
            .order_by(Response.n)
        ).all()
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.status == "finished" and attempt.total_score == 355
    latest = {}
    for seq, choice in responses:
        latest[seq] = choice
    assert latest == planned  # exactly one latest answer per item, the planned one
    assert len(responses) == 110 + 3  # the three changed answers are one extra row each
