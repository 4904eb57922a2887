"""Chromium at a workstation (1366x768) against a real gunicorn: SKD-style navigable sections.

(a) a candidate does a two-section exam with the keyboard only: answers, changes
an answer, marks one for review, finishes each section through its confirm
dialog (the first with the key S, which asks first too; the second by Tab to the
button) and sees the right total; (b) the server dies mid-section: the offline
banner shows, an answer chosen meanwhile is queued, and after the restart on the
same port it lands exactly once. Screenshots go to $CAT_SCREENSHOT_DIR when set
(docs/screenshots), else to the test's tmp dir.
"""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

import pytest

from cat_server import security
from cat_server.extensions import db
from cat_server.models import (
    Attempt,
    Candidate,
    Exam,
    ExamSection,
    Item,
    ItemBank,
    Response,
    Seat,
    Sitting,
)
from tests import live
from tests.conftest import PIN, make_user
from tests.live import LiveServer
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO_BANK = Path(__file__).resolve().parent.parent / "cat_server" / "data" / "demo_bank.csv"
VIEWPORT = {"width": 1366, "height": 768}


def make_skd_sitting(n_twk=10, n_tkp=2, duration_s=1800) -> int:
    """TWK (keyed, 5 points) then TKP (every option scores 1..5), both navigable.

    Stems and options are the demo bank's first rows, so screenshots look real.
    """
    with open(DEMO_BANK, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    bank = ItemBank(name="Bank SKD uji", version=1)
    db.session.add(bank)
    db.session.flush()
    picked = [r for r in rows if r["section"] == "TWK"][:n_twk] + [
        r for r in rows if r["section"] == "TKP"
    ][:n_tkp]
    for position, row in enumerate(picked, start=1):
        options = [row[f"option_{x}"] for x in "abcde"]
        keyed = row["section"] == "TWK"
        db.session.add(
            Item(
                bank_id=bank.id,
                code=row["item_id"],
                position=position,
                section=row["section"],
                model="2pl" if keyed else "gpcm",
                a=1.0,
                b=0.0 if keyed else None,
                thresholds=None if keyed else [-1.0, -0.3, 0.3, 1.0],
                stem=row["stem"],
                options=options,
                key=row["key"] if keyed else None,
                option_scores=None if keyed else [int(row[f"score_{x}"]) for x in "abcde"],
            )
        )
    exam = Exam(name="Simulasi SKD (uji)", bank_id=bank.id, duration_s=duration_s, show_result=True)
    exam.sections.append(
        ExamSection(
            position=1,
            code="TWK",
            name="Tes Wawasan Kebangsaan",
            n_items=n_twk,
            pass_mark=10,
            points_correct=5,
            navigable=True,
        )
    )
    exam.sections.append(
        ExamSection(
            position=2,
            code="TKP",
            name="Tes Karakteristik Pribadi",
            n_items=n_tkp,
            pass_mark=6,
            navigable=True,
        )
    )
    sitting = Sitting(exam=exam, name="Sesi 1", room="Ruang CAT 1", status="open")
    sitting.proctors.append(make_user())
    db.session.add(sitting)
    db.session.flush()
    seat = Seat(sitting_id=sitting.id, label="PC-07", position=7)
    db.session.add(seat)
    db.session.flush()
    db.session.add(
        Candidate(
            sitting_id=sitting.id,
            registration_no="202600000007",
            name="Dewi Wijaya",
            pin_hash=security.hash_pin(PIN),
            seat_id=seat.id,
        )
    )
    db.session.commit()
    return sitting.id


def make_adaptive_sitting(n_pool=12, n_items=3, duration_s=1800) -> int:
    """One adaptive TWK section: the engine picks 3 of the demo bank's first 12 TWK items."""
    with open(DEMO_BANK, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["section"] == "TWK"][:n_pool]
    bank = ItemBank(name="Bank adaptif uji", version=1)
    db.session.add(bank)
    db.session.flush()
    for position, row in enumerate(rows, start=1):
        db.session.add(
            Item(
                bank_id=bank.id,
                code=row["item_id"],
                position=position,
                section="TWK",
                model=row["model"],
                a=float(row["a"]),
                b=float(row["b"]),
                c=float(row["c"] or 0),
                d=float(row["d"] or 1),
                stem=row["stem"],
                key=row["key"],
                options=[row[f"option_{x}"] for x in "abcde"],
            )
        )
    exam = Exam(
        name="Tes Kompetensi Adaptif (uji)",
        bank_id=bank.id,
        duration_s=duration_s,
        show_result=True,
    )
    exam.sections.append(
        ExamSection(
            position=1,
            code="TWK",
            name="Kompetensi Dasar (adaptif)",
            mode="adaptive",
            n_items=n_items,
            min_items=n_items,
            pass_mark=None,
        )
    )
    sitting = Sitting(exam=exam, name="Sesi 2", room="Ruang CAT 1", status="open")
    sitting.proctors.append(make_user())
    db.session.add(sitting)
    db.session.flush()
    seat = Seat(sitting_id=sitting.id, label="PC-07", position=7)
    db.session.add(seat)
    db.session.flush()
    db.session.add(
        Candidate(
            sitting_id=sitting.id,
            registration_no="202600000007",
            name="Dewi Wijaya",
            pin_hash=security.hash_pin(PIN),
            seat_id=seat.id,
        )
    )
    db.session.commit()
    return sitting.id


def items_by_seq(attempt_id):
    """{seq: Item} as presented to the attempt (the page shows them in this order)."""
    from cat_server.models import Presentation

    rows = db.session.execute(
        db.select(Presentation.seq, Item)
        .join(Item, Item.id == Presentation.item_id)
        .where(Presentation.attempt_id == attempt_id)
    ).all()
    return {seq: item for seq, item in rows}


@pytest.fixture
def skd(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_skd_sitting()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


@pytest.fixture
def adaptive(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_adaptive_sitting()
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.sitting_id = sitting_id
    yield live
    live.stop()


@pytest.fixture
def shots(tmp_path):
    path = Path(os.environ.get("CAT_SCREENSHOT_DIR") or tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def proctor_call(server, event, **payload):
    """One proctor action on the test's sitting; return the ack."""
    return live.proctor_call(server.url, server.sitting_id, event, **payload)


def start_sitting(server):
    """The proctor presses Start."""
    ack = proctor_call(server, "start_sitting")
    assert ack == {"ok": True}, ack


def keyboard_login(page, server, shot=None, registration_no="202600000007"):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/exam/{server.sitting_id}/")
    expect(page.locator("#registration_no")).to_be_focused()  # autofocus: type at once
    if shot:
        page.screenshot(path=str(shot))
    page.keyboard.type(registration_no)
    page.keyboard.press("Tab")
    page.keyboard.type(PIN)
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=status-screen][data-status=waiting]")


def tab_to(page, testid, limit=40):
    """Press Tab until the element with ``testid`` has the focus; return how many presses."""
    for presses in range(limit):
        if (
            page.evaluate("document.activeElement && document.activeElement.dataset.testid")
            == testid
        ):
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {testid}")


def strip(page, n):
    return page.get_by_test_id(f"strip-{n}")


def wait_saved(page):
    from playwright.sync_api import expect

    expect(page.get_by_test_id("nav-saving")).to_have_text("Tersimpan")


def finish_section_with_keyboard(page, unanswered, marked, tab_limit=40):
    from playwright.sync_api import expect

    tab_to(page, "finish-section", limit=tab_limit)
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("finish-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("finish-unanswered")).to_have_text(str(unanswered))
    expect(page.get_by_test_id("finish-marked")).to_have_text(str(marked))
    # the safe choice has the focus: Enter now would go back to the items
    assert page.evaluate("document.activeElement.dataset.testid") == "finish-cancel"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "finish-confirm"
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()


def finish_section_with_shortcut(page, unanswered, marked):
    """The documented key S opens the same confirm dialog; S then Enter only goes back."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("finish-section")).to_have_attribute("aria-keyshortcuts", "S")
    dialog = page.get_by_test_id("finish-dialog")
    page.keyboard.press("s")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.dataset.testid") == "finish-cancel"
    page.keyboard.press("S")  # a second press inside the dialog does nothing more
    page.keyboard.press("Enter")  # the focused safe choice: back to the items
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    page.keyboard.press("S")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("finish-unanswered")).to_have_text(str(unanswered))
    expect(page.get_by_test_id("finish-marked")).to_have_text(str(marked))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "finish-confirm"
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()


def test_candidate_does_a_navigable_skd_exam_with_the_keyboard_only(app, browser, skd, shots):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(page, skd, shot=shots / "candidate-login.png")
    page.screenshot(path=str(shots / "candidate-waiting.png"))
    start_sitting(skd)

    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    expect(page.get_by_test_id("navigator")).to_be_visible()
    expect(page.get_by_test_id("section-tab-TWK")).to_have_attribute("data-status", "current")
    expect(page.get_by_test_id("section-tab-TKP")).to_have_attribute("data-status", "upcoming")
    expect(page.get_by_test_id("submit-answer")).to_be_hidden()
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 10")
    with app.app_context():
        attempt = db.session.execute(db.select(Attempt)).scalar_one()
        twk = items_by_seq(attempt.id)
    keys = [twk[seq].key for seq in (1, 2, 3)]
    wrong = "E" if keys[0] != "E" else "D"

    # item 1: a wrong answer first, corrected later
    expect(page.get_by_test_id("item-stem")).to_have_text(twk[1].stem)
    page.keyboard.press(wrong)
    expect(strip(page, 1)).to_have_class(re.compile(r"\banswered\b"))
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("item-stem")).to_have_text(twk[2].stem)
    page.keyboard.press(keys[1])
    page.keyboard.press("R")  # ragu-ragu: marked for review
    expect(strip(page, 2)).to_have_class(re.compile(r"\bmarked\b"))
    expect(page.get_by_test_id("mark-item")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")  # Enter: the next item
    expect(page.get_by_test_id("item-stem")).to_have_text(twk[3].stem)
    expect(strip(page, 3)).to_have_attribute("aria-current", "true")
    expect(strip(page, 3)).to_have_attribute("aria-label", re.compile("belum dijawab"))
    page.keyboard.press(keys[2].lower())
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_test_id("item-stem")).to_have_text(twk[1].stem)
    expect(page.get_by_test_id(f"option-{wrong}")).to_have_attribute("aria-checked", "true")
    page.keyboard.press(keys[0])  # change the answer
    expect(page.get_by_test_id(f"option-{keys[0]}")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_test_id(f"option-{wrong}")).to_have_attribute("aria-checked", "false")
    wait_saved(page)
    expect(page.get_by_test_id("all-answered")).to_be_hidden()
    expect(page.get_by_test_id("section-answered")).to_have_text("3 dari 10 terjawab")
    page.keyboard.press("ArrowRight")  # back to the marked one for the picture
    expect(page.get_by_test_id("mark-item")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(shots / "candidate-navigation.png"))

    # the shortcut: no Tab walk past the options, the buttons and the strip
    finish_section_with_shortcut(page, unanswered=7, marked=1)

    # TKP: every option earns points; the best ones give 5 + 5
    expect(page.get_by_test_id("section-tab-TWK")).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("section-tab-TKP")).to_have_attribute("data-status", "current")
    expect(page.get_by_test_id("progress")).to_have_text("Soal 1 dari 2")
    with app.app_context():
        tkp = {seq: item for seq, item in items_by_seq(attempt.id).items() if seq > 10}
    best = {seq: "ABCDE"[item.option_scores.index(5)] for seq, item in tkp.items()}
    expect(page.get_by_test_id("item-stem")).to_have_text(tkp[11].stem)
    page.keyboard.press(best[11])
    page.screenshot(path=str(shots / "candidate-item.png"))
    page.keyboard.press("ArrowRight")
    page.keyboard.press(best[12])
    expect(page.get_by_test_id("all-answered")).to_be_visible()
    wait_saved(page)
    finish_section_with_keyboard(page, unanswered=0, marked=0)

    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    expect(page.get_by_test_id("result-total")).to_have_text("25")  # 3 x 5 (TWK) + 5 + 5 (TKP)
    page.screenshot(path=str(shots / "candidate-result.png"))
    page.context.close()

    with app.app_context():
        rows = db.session.execute(
            db.select(Response.seq, Response.choice)
            .where(Response.attempt_id == attempt.id)
            .order_by(Response.n)
        ).all()
        finished = db.session.get(Attempt, attempt.id)
        assert finished.status == "finished" and finished.total_score == 25
    # the changed answer is a second row for seq 1; nothing else was stored twice
    assert [tuple(r) for r in rows] == [
        (1, wrong),
        (2, keys[1]),
        (3, keys[2]),
        (1, keys[0]),
        (11, best[11]),
        (12, best[12]),
    ]


def test_an_answer_chosen_while_the_server_is_down_lands_once_after_restart(app, browser, skd):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(page, skd)
    start_sitting(skd)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    # nothing is saved before the candidate answers, and the page must not say so
    expect(page.get_by_test_id("nav-saving")).to_have_text("Belum dijawab")
    page.keyboard.press("A")
    wait_saved(page)
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()

    skd.kill()
    expect(page.get_by_test_id("offline-banner")).to_be_visible(timeout=15000)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("B")
    page.keyboard.press("C")  # a newer choice for the same item replaces the unsent one
    expect(page.get_by_test_id("offline-queued")).to_have_text("Jawaban menunggu dikirim: 1")
    expect(strip(page, 2)).to_have_class(re.compile(r"\banswered\b"))
    assert page.evaluate("JSON.parse(localStorage.getItem('cat-exam-queue-1')).length") == 1
    time.sleep(1.0)

    skd.start()  # the same port: the page's own reconnect finds it
    expect(page.get_by_test_id("offline-banner")).to_be_hidden(timeout=30000)
    wait_saved(page)
    expect(page.get_by_test_id("option-C")).to_have_attribute("aria-checked", "true")
    assert page.evaluate("localStorage.getItem('cat-exam-queue-1')") is None
    page.context.close()

    with app.app_context():
        rows = db.session.execute(
            db.select(Response.seq, Response.choice).order_by(Response.n)
        ).all()
    assert [tuple(r) for r in rows] == [(1, "A"), (2, "C")]


def test_adaptive_section_goes_forward_only_and_says_why(browser, adaptive, shots):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(page, adaptive)
    start_sitting(adaptive)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    expect(page.get_by_test_id("adaptive-note")).to_have_text(
        "Bagian adaptif: soal berikutnya dipilih dari jawaban Anda, jadi jawaban tidak dapat "
        "diubah."
    )
    expect(page.get_by_test_id("navigator")).to_be_hidden()
    expect(page.get_by_test_id("prev-item")).to_be_hidden()
    submit = page.get_by_test_id("submit-answer")
    expect(submit).to_be_disabled()
    stems = []
    for n in range(1, 4):
        expect(page.get_by_test_id("progress")).to_have_text(f"Soal {n} (maks. 3)")
        stem = page.get_by_test_id("item-stem")
        expect(stem).not_to_have_text("")
        stems.append(stem.inner_text())
        page.keyboard.press("B")
        expect(page.get_by_test_id("option-B")).to_have_attribute("aria-checked", "true")
        expect(submit).to_be_enabled()
        if n == 1:
            page.screenshot(path=str(shots / "candidate-item.png"))
        page.keyboard.press("ArrowLeft")  # no going back in an adaptive section
        expect(page.get_by_test_id("item-stem")).to_have_text(stems[-1])
        page.keyboard.press("Enter")
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    assert len(set(stems)) == 3  # the engine never presents an item twice
    page.context.close()


def test_a_second_workstation_with_the_same_login_gets_a_full_screen_message(browser, skd):  # noqa: F811
    from playwright.sync_api import expect

    first = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(first, skd)
    second = browser.new_context(viewport=VIEWPORT).new_page()
    second.goto(f"{skd.url}/exam/{skd.sitting_id}/")
    expect(second.locator("#registration_no")).to_be_focused()
    second.keyboard.type("202600000007")
    second.keyboard.press("Tab")
    second.keyboard.type(PIN)
    second.keyboard.press("Enter")
    expect(second.get_by_test_id("blocked")).to_be_visible()
    assert second.url.endswith("/take")  # no bouncing between the login page and this one
    expect(second.get_by_test_id("blocked-title")).to_have_text(
        "Login ini sedang aktif di komputer lain. Hubungi pengawas."
    )
    expect(second.get_by_test_id("blocked-title")).to_be_visible()
    # the first workstation is undisturbed
    expect(first.get_by_test_id("blocked")).to_be_hidden()
    expect(first.get_by_test_id("status-screen")).to_have_attribute("data-status", "waiting")
    second.context.close()
    first.context.close()


def test_time_warnings_at_ten_and_five_minutes_in_english(app, browser, db_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=2, n_tkp=1, duration_s=5 * 60 + 4)
    server = LiveServer(db_url, tmp_path / "server.log").start()
    server.sitting_id = sitting_id
    try:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(f"{server.url}/exam/{sitting_id}/?lang=en")  # the id | en switch's link
        expect(page.get_by_test_id("lang-id")).to_be_visible()
        keyboard_login(page, server)  # the language cookie carries over
        expect(page.get_by_test_id("status-screen")).to_contain_text(
            "Waiting for the proctor to start the exam"
        )
        start_sitting(server)
        warning = page.get_by_test_id("time-warning")
        expect(warning).to_have_text(re.compile("10 minutes left"))
        expect(warning).to_have_attribute("aria-live", "assertive")
        expect(warning).to_have_text(re.compile("5 minutes left"), timeout=15000)
        expect(page.get_by_test_id("countdown")).to_have_class(re.compile(r"\blow\b"))
        expect(page.get_by_test_id("progress")).to_have_text("Item 1 of 2")
        page.context.close()
    finally:
        server.stop()


def test_language_switch_indonesian_by_default_english_on_request(app, client):
    with app.app_context():
        sitting_id = make_skd_sitting(n_twk=2, n_tkp=1)
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="id">' in page and "Masuk petugas" in page and "Staff login" not in page
    response = client.get("/login?lang=en")
    assert "lang=en" in response.headers["Set-Cookie"]
    assert "Staff login" in response.get_data(as_text=True)
    # the cookie keeps the choice on every page, the candidate's too
    page = client.get(f"/exam/{sitting_id}/").get_data(as_text=True)
    assert '<html lang="en">' in page and "Candidate login" in page
    assert "Login peserta" not in page
    page = client.get(f"/exam/{sitting_id}/?lang=id").get_data(as_text=True)
    assert "Login peserta" in page
    assert client.get(f"/exam/{sitting_id}/?lang=xx").status_code == 200  # unknown: ignored
    assert "Login peserta" in client.get(f"/exam/{sitting_id}/").get_data(as_text=True)


def test_an_answer_without_acknowledgement_is_sent_again_and_stored_once(app, browser, skd):  # noqa: F811
    """The server freezes (SIGSTOP) with an answer in flight: after the ack timeout the
    page reconnects and sends the same answer again; the server, thawed, has it once."""
    import signal

    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(page, skd)
    start_sitting(skd)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    page.keyboard.press("A")
    wait_saved(page)

    os.killpg(skd.process.pid, signal.SIGSTOP)
    try:
        page.keyboard.press("ArrowRight")
        page.keyboard.press("B")  # sent; no acknowledgement can come
        expect(page.get_by_test_id("nav-saving")).to_have_text("Menyimpan…")
        # the 10 s ack timeout: the page drops the socket and tries a fresh one
        expect(page.get_by_test_id("offline-banner")).to_be_visible(timeout=15000)
    finally:
        os.killpg(skd.process.pid, signal.SIGCONT)
    expect(page.get_by_test_id("offline-banner")).to_be_hidden(timeout=30000)
    wait_saved(page)
    expect(strip(page, 2)).to_have_class(re.compile(r"\banswered\b"))
    page.context.close()

    with app.app_context():
        rows = db.session.execute(
            db.select(Response.seq, Response.choice).order_by(Response.n)
        ).all()
    assert [tuple(r) for r in rows] == [(1, "A"), (2, "B")]


def test_pause_extension_and_end_by_the_proctor_show_on_the_workstation(app, browser, skd):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT).new_page()
    keyboard_login(page, skd)
    start_sitting(skd)
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    with app.app_context():
        candidate = db.session.execute(db.select(Candidate.id)).scalar_one()
    page.keyboard.press("C")
    wait_saved(page)

    ack = proctor_call(skd, "pause_seat", candidate=candidate, reason="listrik padam")
    assert ack == {"ok": True}, ack
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "paused")
    expect(page.get_by_test_id("paused")).to_contain_text("Ujian dijeda oleh pengawas")
    frozen = page.locator("#paused-time").inner_text()
    time.sleep(2.2)
    assert page.locator("#paused-time").inner_text() == frozen  # the clock stands still
    page.keyboard.press("D")  # no item on screen while paused: nothing is sent
    ack = proctor_call(skd, "resume_seat", candidate=candidate, reason="listrik menyala")
    assert ack == {"ok": True}, ack
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
    expect(page.get_by_test_id("countdown")).to_have_text(frozen)

    ack = proctor_call(skd, "extend_seat", candidate=candidate, minutes=5, reason="gangguan")
    assert ack == {"ok": True}, ack
    expect(page.get_by_test_id("time-warning")).to_have_text(
        re.compile("Waktu ditambah 5 menit oleh pengawas")
    )
    ack = proctor_call(skd, "end_attempt", candidate=candidate, reason="sakit")
    assert ack == {"ok": True}, ack
    expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "finished")
    expect(page.locator("#finish-reason")).to_have_text("Ujian diakhiri oleh pengawas.")
    page.context.close()
    with app.app_context():
        rows = db.session.execute(db.select(Response.seq, Response.choice)).all()
    assert [tuple(r) for r in rows] == [(1, "C")]
