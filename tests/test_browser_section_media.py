"""Chromium at a workstation against a real gunicorn: an image item and a section clock.

The first section (TIU, linear) has 10 minutes of its own and starts with an
item whose graph is bank media: the page shows the image (served by the media
route) and the section's clock. The server is then killed and its last
heartbeat set back 60 s (as if it had been down a minute, without waiting
one): the restarted process credits the gap to both the exam's and the
section's deadline, and the page shows the section clock a minute up. Last,
the test brings the section deadline close in the database; the server's own
reaper ends the section and the page moves to the next one (TWK, the exam's
clock only) without anyone touching it.
Screenshots go to $CAT_SCREENSHOT_DIR when set (docs/screenshots), else tmp.
"""

from __future__ import annotations

import re
import struct
import zlib
from datetime import timedelta

import pytest

from cat_server import security
from cat_server.extensions import db
from cat_server.models import (
    Attempt,
    AuditEvent,
    Candidate,
    Exam,
    ExamSection,
    Heartbeat,
    Item,
    ItemBank,
    Seat,
    Sitting,
    utcnow,
)
from tests.conftest import PIN
from tests.live import LiveServer
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.test_browser_exam import VIEWPORT, shots  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RICE = [31.4, 33.9, 30.2, 35.6, 32.8]  # "juta ton", 2021..2025: 2024 is the highest


def bar_chart_png(values, width=520, height=180) -> bytes:
    """A plain bar chart as a PNG (no imaging library needed)."""
    top = max(values)
    bar_w, gap, base = 64, 32, height - 20
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            colour = (255, 255, 255)
            if y in (base, base + 1) and 20 <= x < width - 20:
                colour = (55, 65, 81)  # the axis
            for i, v in enumerate(values):
                x0 = 40 + i * (bar_w + gap)
                if x0 <= x < x0 + bar_w and base - int(v / top * (base - 20)) <= y < base:
                    colour = (17, 94, 89)
            row += bytes(colour)
        rows.append(b"\x00" + bytes(row))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def make_timed_media_sitting() -> int:
    bank = ItemBank(name="Bank bergambar", version=1)
    db.session.add(bank)
    db.session.flush()
    years = [str(y) for y in range(2021, 2026)]
    db.session.add(
        Item(
            bank_id=bank.id,
            code="TIU-GRAFIK",
            position=1,
            section="TIU",
            model="2pl",
            a=1.0,
            b=0.0,
            key="D",
            media="media/produksi-beras.png",
            options=years,
            stem="Grafik di bawah menunjukkan produksi beras nasional (juta ton) tahun "
            "2021–2025. Pada tahun berapa produksi beras paling tinggi?",
        )
    )
    db.session.add(
        Item(
            bank_id=bank.id,
            code="TIU-2",
            position=2,
            section="TIU",
            model="2pl",
            a=1.0,
            b=0.2,
            key="A",
            stem="Jika 3x + 5 = 20, maka x = ...",
            options=["5", "4", "6", "3", "7"],
        )
    )
    db.session.add(
        Item(
            bank_id=bank.id,
            code="TWK-1",
            position=3,
            section="TWK",
            model="2pl",
            a=1.0,
            b=0.0,
            key="B",
            stem="Pancasila sebagai dasar negara disahkan pada tanggal ...",
            options=[
                "1 Juni 1945",
                "18 Agustus 1945",
                "17 Agustus 1945",
                "22 Juni 1945",
                "29 Mei 1945",
            ],
        )
    )
    exam = Exam(name="Ujian berwaktu per bagian (uji)", bank_id=bank.id, duration_s=30 * 60)
    exam.sections.append(
        ExamSection(
            position=1, code="TIU", name="Tes Intelegensia Umum", n_items=2, time_limit_min=10
        )
    )
    exam.sections.append(
        ExamSection(position=2, code="TWK", name="Tes Wawasan Kebangsaan", n_items=1)
    )
    sitting = Sitting(
        exam=exam, name="Sesi 3", room="Ruang CAT 1", status="started", started_at=utcnow()
    )
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


def test_an_image_item_and_a_section_clock_through_downtime_to_its_end(
    app,
    db_url,
    tmp_path,
    browser,  # noqa: F811
    shots,  # noqa: F811
):
    from playwright.sync_api import expect

    with app.app_context():
        sitting_id = make_timed_media_sitting()
        bank_id = db.session.query(ItemBank).one().id
    media = tmp_path / "media" / f"bank-{bank_id}" / "media"
    media.mkdir(parents=True)
    (media / "produksi-beras.png").write_bytes(bar_chart_png(RICE))
    live = LiveServer(db_url, tmp_path / "server.log", MEDIA_DIR=str(tmp_path / "media"))
    live.start()
    try:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{live.url}/exam/{sitting_id}/")
        page.fill("input[name=registration_no]", "202600000007")
        page.fill("input[name=pin]", PIN)
        page.click("button[type=submit]")
        expect(page.get_by_test_id("section-name")).to_have_text("Tes Intelegensia Umum")
        image = page.locator("#item-media img")
        expect(image).to_be_visible()
        # the picture really loaded (not wait_for_function: its polling evals a string,
        # which the page's CSP refuses once the first check fails)
        expect(image).to_have_js_property("naturalWidth", 520, timeout=10000)
        expect(page.get_by_test_id("countdown-label")).to_be_visible()
        countdown = page.get_by_test_id("countdown")
        expect(countdown).to_have_text(re.compile(r"^(10:00|09:5\d)$"))
        expect(page.get_by_test_id("time-warning")).to_be_hidden()  # no "10 minutes left" yet
        page.screenshot(path=str(shots / "candidate-item-media.png"))

        live.kill()  # down "a minute": the heartbeat says so
        with app.app_context():
            attempt = db.session.query(Attempt).one()
            exam_at, section_at = attempt.deadline_at, attempt.section_deadline_at
            db.session.get(Heartbeat, "server").beat_at -= timedelta(seconds=60)
            db.session.commit()
        live.start()
        with app.app_context():
            attempt = db.session.query(Attempt).one()
            exam_moved = (attempt.deadline_at - exam_at).total_seconds()
            assert 60 <= exam_moved < 90  # the minute, plus the real seconds of the restart
            assert (attempt.section_deadline_at - section_at).total_seconds() == exam_moved
            credit = db.session.query(AuditEvent).filter_by(action="downtime_credit").one()
            assert credit.data["seconds"] == pytest.approx(exam_moved, abs=0.1)
        # the page reconnects by itself and its section clock is a minute up
        expect(countdown).to_have_text(re.compile(r"^1[01]:\d\d$"), timeout=20000)

        with app.app_context():  # the section's time is nearly up
            attempt = db.session.query(Attempt).one()
            attempt.section_deadline_at = utcnow() + timedelta(seconds=2)
            db.session.commit()
        page.get_by_test_id("option-D").click()  # chosen, not sent: lost with the section
        # the page moves on by itself: the server's reaper ended the section
        expect(page.get_by_test_id("section-name")).to_have_text(
            "Tes Wawasan Kebangsaan", timeout=15000
        )
        expect(page.get_by_test_id("countdown-label")).to_be_hidden()
        expect(page.locator("#item-media")).to_be_hidden()
        expect(countdown).to_have_text(re.compile(r"^(29|30):\d\d$"))
        expect(page.locator("#time-warning")).to_contain_text("Waktu bagian ini telah habis")
        page.screenshot(path=str(shots / "candidate-section-time-up.png"))
        with app.app_context():
            attempt = db.session.query(Attempt).one()
            assert attempt.section_index == 2 and attempt.n_responses == 0
    finally:
        live.stop()
