"""The demo's SKD blueprint taken whole (TWK 30, TIU 35, TKP 45; 65/80/166), scored by hand.

The demo bank and the "Sesi Demo 1" blueprint exactly as `cat-server demo`
makes them (with one seat: the demo's 50 PIN hashes would cost 10 s). One
candidate answers all 110 items through the real
Socket.IO handlers with a planned pattern; the expected scores come from the
demo bank CSV itself (keys and option scores read here, not from the
database): TWK 20 right = 100 (pass), TIU 15 right = 75 (fails 80), TKP every
answer worth 4 = 180 (pass); total 355, not passed because TIU failed.
"""

import csv

from cat_server import security
from cat_server.demo import BLUEPRINTS, DEMO_BANK
from cat_server.exam import attempts
from cat_server.extensions import db, socketio
from cat_server.itembank.service import import_bank
from cat_server.models import Attempt, Candidate, Exam, ExamSection, Item, Response, Sitting
from tests.conftest import PIN, last_event, login_candidate


def demo_skd_sitting() -> int:
    blueprint = BLUEPRINTS["Sesi Demo 1"]
    bank = import_bank(DEMO_BANK, "Bank Soal Demo SKD", actor="test")
    exam = Exam(name=blueprint["exam"], bank=bank, duration_s=blueprint["duration_s"])
    for position, section in enumerate(blueprint["sections"], start=1):
        exam.sections.append(ExamSection(position=position, **section))
    sitting = Sitting(exam=exam, name="Sesi Demo 1", room="Ruang Ujian 1", status="open")
    db.session.add(sitting)
    db.session.flush()
    db.session.add(
        Candidate(
            sitting_id=sitting.id,
            registration_no="202600000001",
            name="Budi Santoso",
            pin_hash=security.hash_pin(PIN),
        )
    )
    db.session.commit()
    return sitting.id


SECTIONS = [("TWK", 30, 65), ("TIU", 35, 80), ("TKP", 45, 166)]  # code, items, pass mark
RIGHT = {"TWK": 20, "TIU": 15}  # the first 20 / 15 items of the section get the key


def demo_bank_rows() -> dict[str, dict]:
    """The demo bank CSV by item code: keys and option scores straight from the file."""
    with open(DEMO_BANK, newline="", encoding="utf-8") as f:
        return {row["item_id"]: row for row in csv.DictReader(f)}


def planned_answer(row: dict, n: int) -> tuple[str, int]:
    """The choice for the section's item number ``n`` (0-based) and the points it earns:
    TKP the option worth 4, TWK/TIU the key for the first RIGHT items, a wrong option after."""
    if row["section"] == "TKP":
        return next(x for x in "ABCDE" if row[f"score_{x.lower()}"] == "4"), 4
    if n < RIGHT[row["section"]]:
        return row["key"], 5
    return next(x for x in "ABCDE" if x != row["key"]), 0


def test_the_demo_skd_exam_scores_as_computed_by_hand_from_the_bank_file(app):
    bank = demo_bank_rows()
    with app.app_context():
        sitting_id = demo_skd_sitting()
        attempts.start_sitting(sitting_id, "user:1")
        codes = dict(db.session.execute(db.select(Item.id, Item.code)).all())
    client = app.test_client()
    assert login_candidate(client, sitting_id, "202600000001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = last_event(sock, "state", "/exam")
    expected = {}
    for index, (code, n_items, pass_mark) in enumerate(SECTIONS, start=1):
        assert state["section"]["code"] == code and state["section"]["index"] == index
        items = state["items"]
        assert len(items) == n_items
        score = 0
        for n, entry in enumerate(items):
            row = bank[codes[entry["item"]["id"]]]
            assert row["section"] == code
            choice, points = planned_answer(row, n)
            score += points
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
        expected[code] = (score, pass_mark)
        ack = sock.emit(
            "finish_section",
            {"attempt": state["attempt"], "section": index},
            namespace="/exam",
            callback=True,
        )
        assert ack["ok"], ack
        state = ack["state"]
    assert expected == {"TWK": (100, 65), "TIU": (75, 80), "TKP": (180, 166)}
    result = state["result"]
    assert [(s["code"], s["score"], s["pass_mark"], s["passed"]) for s in result["sections"]] == [
        ("TWK", 100, 65, True),
        ("TIU", 75, 80, False),
        ("TKP", 180, 166, True),
    ]
    assert result["total"] == 355 and result["passed"] is False  # every section must pass
    with app.app_context():
        assert db.session.query(Response).count() == 110
        assert db.session.query(Attempt).filter_by(status="finished").count() == 1
