"""Headless Chromium: from a fresh database and the admin pages alone, an administrator
uploads a bank with sub-topics, builds the SKD exam on the builder (TWK 30 / TIU 35 / TKP 45,
navigable, 5/0 and 1-5 scoring, pass marks 65/80/166, 100 minutes, items drawn per sub-topic
and shuffled), schedules a sitting and enrols two candidates; both then sit it over Socket.IO.
Their scores are what the bank file says, and no two see the same order."""

from __future__ import annotations

import csv
import os

import pytest

from cat_server.demo import DEMO_BANK
from cat_server.exam import attempts
from cat_server.extensions import db, socketio
from cat_server.models import Attempt, Candidate, Item, Sitting
from tests.conftest import login_candidate, make_user
from tests.live import LiveServer
from tests.test_admin_browser import SHOTS
from tests.test_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECTIONS = [  # code, name, items, pass mark, items per sub-topic
    ("TWK", "Tes Wawasan Kebangsaan", 30, 65, (9, 11, 10)),
    ("TIU", "Tes Intelegensia Umum", 35, 80, (12, 12, 11)),
    ("TKP", "Tes Karakteristik Pribadi", 45, 166, (15, 15, 15)),
]
RIGHT = {"TWK": 20, "TIU": 15}  # the first 20 / 15 items shown get the key; TKP the 4-point option


def bank_with_sub_topics(path) -> dict[str, dict]:
    """The demo bank, each section's items spread over three sub-topics (TWK-1..TWK-3);
    the items of one enemy group stay in one sub-topic. Returns the rows by item id."""
    with open(DEMO_BANK, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    seen: dict[str, int] = {}
    group_tag: dict[str, str] = {}
    for row in rows:
        n = seen[row["section"]] = seen.get(row["section"], 0) + 1
        tag = f"{row['section']}-{n % 3 + 1}"
        if row["enemy_group"]:
            tag = group_tag.setdefault(row["enemy_group"], tag)
        row["section"] = tag
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return {row["item_id"]: row for row in rows}


def planned_answer(row: dict, n: int) -> tuple[str, int]:
    section = row["section"].split("-")[0]
    if section == "TKP":
        return next(x for x in "ABCDE" if row[f"score_{x.lower()}"] == "4"), 4
    if n < RIGHT[section]:
        return row["key"], 5
    return next(x for x in "ABCDE" if x != row["key"]), 0


@pytest.fixture
def server(app, db_url, tmp_path):
    with app.app_context():
        make_user("admin", "admin", "admin-pass-1")
        make_user("pengawas", "proctor")
    live = LiveServer(db_url, tmp_path / "server.log").start()
    yield live
    live.stop()


def build_and_schedule(server, tmp_path, shoot: bool) -> dict[str, str]:
    """The admin's part, in the browser: bank, exam, sitting, candidates. Returns the PINs."""
    from playwright.sync_api import expect, sync_playwright

    bank = tmp_path / "bank_skd_subtopik.csv"
    bank_with_sub_topics(bank)
    people = tmp_path / "peserta.csv"
    people.write_text(
        "registration_no,name,birth_date,sitting,seat\n"
        "2026100001,Budi Santoso,1995-04-12,Sesi SKD,PC-01\n"
        "2026100002,Siti Rahmawati,1997-11-03,Sesi SKD,PC-02\n",
        encoding="utf-8",
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{server.url}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "admin-pass-1")
        page.click("button[type=submit]")

        page.goto(f"{server.url}/admin/banks")
        page.fill("#name", "Bank SKD Subtopik")
        page.set_input_files("#file", str(bank))
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Bank SKD Subtopik")

        page.goto(f"{server.url}/admin/exams")
        page.click("text=Susun ujian baru")
        page.fill("#name", "SKD CPNS 2026")
        page.fill("#total_minutes", "100")
        for k, (code, name, _n, mark, per_tag) in enumerate(SECTIONS, start=1):
            page.fill(f"#s{k}-code", code)
            page.fill(f"#s{k}-name", name)
            page.select_option(f"#s{k}-navigation", "navigable")
            page.fill(f"#s{k}-pool", ", ".join(f"{code}-{t}" for t in (1, 2, 3)))
            page.select_option(f"#s{k}-selection", "per_tag")
            counts = list(per_tag)
            if k == 1:
                counts[0] = 40  # one mistake first: more than the sub-topic holds
            page.fill(
                f"#s{k}-counts", ", ".join(f"{code}-{t}: {n}" for t, n in enumerate(counts, 1))
            )
            page.fill(f"#s{k}-points_correct", "5")
            page.fill(f"#s{k}-pass_mark", str(mark))
            page.check(f"[name=s{k}-shuffle_items]")
        page.click("text=Periksa dan simpan ujian")
        problems = page.get_by_test_id("builder-problems")
        expect(problems).to_contain_text("sections[1].selection.counts.TWK-1")
        expect(problems).to_contain_text("40 soal diminta")
        if shoot:
            page.screenshot(path=str(SHOTS / "admin-exam-builder-problems.png"))
        page.fill("#s1-counts", "TWK-1: 9, TWK-2: 11, TWK-3: 10")
        page.click("text=Periksa dan simpan ujian")
        expect(page.locator("table").first).to_contain_text("SKD CPNS 2026")
        page.click("text=Ubah")
        expect(page.locator("#s3-counts")).to_have_value("TKP-1: 15, TKP-2: 15, TKP-3: 15")
        if shoot:  # the first section's settings fill the screen
            page.evaluate("document.querySelector('[data-testid=section-1]').scrollIntoView()")
            page.screenshot(path=str(SHOTS / "admin-exam-builder.png"))

        page.click("nav >> text=Sesi")
        page.select_option("#exam_id", label="SKD CPNS 2026")
        page.fill("#sitting-name", "Sesi SKD")
        page.fill("#scheduled_at", "2026-12-01T08:00")
        page.fill("#room", "Ruang Ujian 1")
        page.check("input[name=proctors]")
        page.click("form.admin-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("Sesi SKD")
        page.click("nav >> text=Sesi")
        page.set_input_files("#candidates-file", str(people))
        page.click("form[action$='/candidates/import'] button[type=submit]")
        expect(page.locator(".slip")).to_have_count(2)
        pins = {}
        for slip in page.locator(".slip").all():
            number = slip.locator("tr").nth(0).locator("code").inner_text()
            pins[number] = slip.locator(".slip-pin code").inner_text()
        browser.close()
    return pins


def sit(app, sitting_id: int, registration_no: str, pin: str, bank: dict, codes: dict):
    """One candidate through the three sections over Socket.IO; (order, expected, result)."""
    client = app.test_client()
    assert login_candidate(client, sitting_id, registration_no, pin).status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    order, expected = [], {}
    for index, (code, _name, n_items, _mark, per_tag) in enumerate(SECTIONS, start=1):
        assert state["section"]["code"] == code
        items = state["items"]
        assert len(items) == n_items
        tags = [bank[codes[e["item"]["id"]]]["section"] for e in items]
        assert [tags.count(f"{code}-{t}") for t in (1, 2, 3)] == list(per_tag)
        score = 0
        for n, entry in enumerate(items):
            choice, points = planned_answer(bank[codes[entry["item"]["id"]]], n)
            score += points
            order.append(entry["item"]["id"])
            ack = sock.emit(
                "answer",
                {
                    "attempt": state["attempt"],
                    "seq": entry["seq"],
                    "item": entry["item"]["id"],
                    "choice": choice,
                },
                namespace="/exam",
                callback=True,
            )
            assert ack["ok"], ack
        expected[code] = score
        ack = sock.emit(
            "finish_section",
            {"attempt": state["attempt"], "section": index},
            namespace="/exam",
            callback=True,
        )
        assert ack["ok"], ack
        state = ack["state"]
    sock.disconnect(namespace="/exam")
    return order, expected, state["result"]


def test_an_admin_builds_the_skd_exam_and_two_candidates_sit_it(server, app, db_url, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    pins = build_and_schedule(server, tmp_path, shoot=db_url.startswith("sqlite"))
    bank = bank_with_sub_topics(tmp_path / "again.csv")
    with app.app_context():
        sitting = db.session.execute(
            db.select(Sitting).where(Sitting.name == "Sesi SKD")
        ).scalar_one()
        sitting_id = sitting.id
        assert sitting.exam.duration_s == 100 * 60
        attempts.open_check_in(sitting_id, "user:2", "mulai")
        codes = dict(db.session.execute(db.select(Item.id, Item.code)).all())
    runs = {}
    for number, pin in pins.items():
        client = app.test_client()
        assert login_candidate(client, sitting_id, number, pin).status_code == 302
    with app.app_context():
        attempts.start_sitting(sitting_id, "user:2", "mulai")
    for number, pin in pins.items():
        runs[number] = sit(app, sitting_id, number, pin, bank, codes)
    for _order, expected, result in runs.values():
        # the planned answers earn exactly this, read from the bank file: TWK 20 right,
        # TIU 15 right, TKP every answer worth 4
        assert expected == {"TWK": 100, "TIU": 75, "TKP": 180}
        assert [(s["code"], s["score"], s["passed"]) for s in result["sections"]] == [
            ("TWK", 100, True),
            ("TIU", 75, False),
            ("TKP", 180, True),
        ]
        assert result["total"] == 355 and result["passed"] is False
    orders = [order for order, _e, _r in runs.values()]
    assert orders[0] != orders[1]
    with app.app_context():
        finished = (
            db.session.execute(
                db.select(Attempt.total_score)
                .join(Candidate)
                .where(Candidate.sitting_id == sitting_id)
            )
            .scalars()
            .all()
        )
        assert finished == [355, 355]
