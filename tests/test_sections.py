"""Exam delivery by sections: navigable SKD-style, adaptive, downtime credit, seat moves."""

from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from cat_server import irt, security
from cat_server.admin import banks
from cat_server.exam import attempts, catalog, chain, clock
from cat_server.extensions import db, socketio
from cat_server.models import (
    Attempt,
    AuditEvent,
    Candidate,
    Exam,
    ExamSection,
    Heartbeat,
    Item,
    ItemBank,
    ItemExposure,
    Response,
    Seat,
    Sitting,
    utcnow,
)
from cat_server.proctor import interventions
from tests.conftest import PIN, last_event, login_candidate

OPTIONS = ["satu", "dua", "tiga", "empat", "lima"]


def build_sitting(sections, items, n_candidates=1, duration_s=600):
    """``items``: dicts for Item; ``sections``: dicts for ExamSection. Returns the sitting id."""
    bank = ItemBank(name="Bank", version=1)
    db.session.add(bank)
    db.session.flush()
    for position, fields in enumerate(items, start=1):
        db.session.add(
            Item(
                bank_id=bank.id,
                position=position,
                options=OPTIONS,
                stem=f"Soal {fields['code']}",
                **fields,
            )
        )
    exam = Exam(name="Ujian", bank_id=bank.id, duration_s=duration_s)
    for position, fields in enumerate(sections, start=1):
        exam.sections.append(ExamSection(position=position, **fields))
    sitting = Sitting(exam=exam, name="Sesi", room="R1", status="started", started_at=utcnow())
    db.session.add(sitting)
    db.session.flush()
    for i in range(n_candidates):
        seat = Seat(sitting_id=sitting.id, label=f"PC-{i + 1:02d}", position=i + 1)
        db.session.add(seat)
        db.session.flush()
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=f"R{i + 1}",
                name=f"Peserta {i + 1}",
                pin_hash=security.hash_pin(PIN),
                seat_id=seat.id,
            )
        )
    db.session.commit()
    return sitting.id


def connect(app, sitting_id, registration_no="R1", device="pc-1"):
    client = app.test_client()
    assert login_candidate(client, sitting_id, registration_no).status_code == 302
    sock = socketio.test_client(
        app, namespace="/exam", flask_test_client=client, auth={"device": device}
    )
    return client, sock


def emit(sock, event, **payload):
    return sock.emit(event, payload, namespace="/exam", callback=True)


SKD_ITEMS = [
    dict(code="TWK1", section="TWK", model="2pl", a=1.0, b=0.0, key="A"),
    dict(code="TWK2", section="TWK", model="2pl", a=1.0, b=0.5, key="B"),
    dict(code="TWK3", section="TWK", model="3pl", a=1.2, b=-0.5, c=0.2, key="C"),
    dict(
        code="TKP1",
        section="TKP",
        model="gpcm",
        a=1.0,
        b=None,
        thresholds=[-1.5, -0.5, 0.5, 1.5],
        option_scores=[3, 5, 1, 2, 4],
    ),
    dict(
        code="TKP2",
        section="TKP",
        model="gpcm",
        a=1.0,
        b=None,
        thresholds=[-1.5, -0.5, 0.5, 1.5],
        option_scores=[5, 4, 3, 2, 1],
    ),
]
SKD_SECTIONS = [
    dict(code="TWK", name="Tes Wawasan Kebangsaan", n_items=3, pass_mark=10, navigable=True),
    dict(code="TKP", name="Tes Karakteristik Pribadi", n_items=2, pass_mark=6, navigable=True),
]


def test_an_skd_exam_scores_the_latest_answers_by_hand(app):
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    assert state["status"] == "in_progress" and state["full"]
    assert [s["status"] for s in state["sections"]] == ["current", "upcoming"]
    items = {entry["seq"]: entry["item"] for entry in state["items"]}
    assert sorted(items) == [1, 2, 3] and state["section"]["navigable"]
    attempt = state["attempt"]

    def answer(seq, choice):
        ack = emit(sock, "answer", attempt=attempt, seq=seq, item=items[seq]["id"], choice=choice)
        assert ack["ok"], ack
        return ack

    answer(3, "C")  # any order: 5
    answer(1, "A")  # 5
    answer(2, "D")  # 0 ...
    ack = answer(2, "B")  # ... changed to the key: 5
    assert ack["state"]["answers"] == {"1": "A", "2": "B", "3": "C"}
    assert "items" not in ack["state"]  # acks are not full: the page keeps its items
    assert answer(2, "B").get("repeat") is True  # nothing stored twice
    ack = emit(sock, "mark", attempt=attempt, seq=3, marked=True)
    assert ack["state"]["marked"] == [3]

    ack = emit(sock, "finish_section", attempt=attempt, section=1)
    state = ack["state"]
    assert state["section"]["code"] == "TKP" and state["full"]
    tkp = {entry["seq"]: entry["item"] for entry in state["items"]}
    assert sorted(tkp) == [4, 5]
    late = emit(sock, "answer", attempt=attempt, seq=1, item=items[1]["id"], choice="B")
    assert late["ok"] is False and late["error"] == "section_over"
    items.update(tkp)
    answer(4, "B")  # 5 points
    answer(5, "C")  # 3 points
    again = emit(sock, "finish_section", attempt=attempt, section=1)
    assert again.get("repeat") is True  # an old section index changes nothing
    state = emit(sock, "finish_section", attempt=attempt, section=2)["state"]
    assert state["status"] == "finished"
    result = state["result"]
    assert [(s["code"], s["score"], s["passed"]) for s in result["sections"]] == [
        ("TWK", 15, True),
        ("TKP", 8, True),
    ]
    assert result["total"] == 23 and result["passed"] is True
    with app.app_context():
        assert db.session.query(Response).count() == 6  # 5 answers + 1 change, no repeat
        rows = db.session.query(Response).order_by(Response.n).all()
        prev = chain.genesis_of(db.session.get(Attempt, attempt))
        for row in rows:
            assert row.prev_hash == prev
            prev = row.hash
        assert db.session.get(Attempt, attempt).chain_head == prev


def test_a_linear_section_moves_on_after_its_last_item(app):
    sections = [dict(code="TWK", name="TWK", n_items=2), dict(code="TKP", name="TKP", n_items=1)]
    with app.app_context():
        sitting_id = build_sitting(sections, SKD_ITEMS[:2] + SKD_ITEMS[3:4])
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    seen = []
    while state["status"] == "in_progress":
        assert "items" not in state and state["section"]["navigable"] is False
        seen.append((state["section"]["code"], state["seq"]))
        state = emit(
            sock,
            "answer",
            attempt=state["attempt"],
            seq=state["seq"],
            item=state["item"]["id"],
            choice="A",
        )["state"]
    assert seen == [("TWK", 1), ("TWK", 2), ("TKP", 3)]
    assert state["result"]["total"] == 5 + 0 + 3


def test_an_adaptive_section_stops_at_the_se_target(app):
    rng = np.random.default_rng(7)
    items = [
        dict(
            code=f"AD{j:03d}",
            section="TWK" if j % 2 else "TIU",
            model="2pl",
            a=float(rng.uniform(1.2, 2.0)),
            b=float(rng.normal()),
            key="A",
        )
        for j in range(80)
    ]
    sections = [
        dict(
            code="TWK,TIU",
            name="Adaptif",
            mode="adaptive",
            n_items=40,
            min_items=5,
            se_target=0.45,
            pass_mark=40,
            content={"TWK": [2, 30], "TIU": [2, 30]},
        )
    ]
    with app.app_context():
        sitting_id = build_sitting(sections, items)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    assert state["section"]["mode"] == "adaptive" and state["section"]["navigable"] is False
    n = 0
    answers = rng.random(80) < 0.6
    while state["status"] == "in_progress":
        ack = emit(
            sock,
            "answer",
            attempt=state["attempt"],
            seq=state["seq"],
            item=state["item"]["id"],
            choice="A" if answers[n] else "B",
        )
        assert ack["ok"], ack
        state, n = ack["state"], n + 1
    assert 5 <= n < 40
    with app.app_context():
        attempt = db.session.query(Attempt).one()
        assert attempt.se <= 0.45 and attempt.n_answered == n
        stop = db.session.query(AuditEvent).filter_by(action="adaptive_stopped").one()
        assert stop.data["stop"] == "se"
        assert attempt.section_scores["TWK,TIU"] == round(50 + 10 * attempt.theta)
        assert sum(e.n for e in db.session.query(ItemExposure)) == n


def test_downtime_is_credited_to_every_running_attempt(app):
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS, n_candidates=2)
    for registration_no in ("R1", "R2"):
        connect(app, sitting_id, registration_no)
    with app.app_context():
        before = {a.id: a.deadline_at for a in db.session.query(Attempt)}
        now = utcnow()
        db.session.add(Heartbeat(name="server", beat_at=now - timedelta(seconds=60)))
        db.session.commit()
        credited = clock.credit_downtime(now=now)
        assert credited == pytest.approx(60, abs=0.5)
        for attempt in db.session.query(Attempt):
            moved = (attempt.deadline_at - before[attempt.id]).total_seconds()
            assert moved == pytest.approx(60, abs=0.5)
        assert db.session.query(AuditEvent).filter_by(action="downtime_credit").count() == 2
        # a restart within a few heartbeats is not downtime
        assert clock.credit_downtime(now=now + timedelta(seconds=2)) == 0.0


def test_downtime_counts_from_the_last_stored_answer_when_heartbeats_were_missed(app):
    """A server starved of database connections misses heartbeats while it still stores
    answers: after its crash only the time since its last answer is credited."""
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    item = state["items"][0]
    ack = emit(
        sock,
        "answer",
        attempt=state["attempt"],
        seq=item["seq"],
        item=item["item"]["id"],
        choice="A",
    )
    assert ack["ok"], ack
    with app.app_context():
        answered_at = db.session.query(Response).one().answered_at
        deadline = db.session.query(Attempt).one().deadline_at
        # the last beat that got through was a minute before that answer
        db.session.add(Heartbeat(name="server", beat_at=answered_at - timedelta(seconds=60)))
        db.session.commit()
        # killed just after the answer and back 2 s later: no downtime worth crediting
        assert clock.credit_downtime(now=answered_at + timedelta(seconds=2)) == 0.0
        assert db.session.query(Attempt).one().deadline_at == deadline

        db.session.query(Heartbeat).one().beat_at = answered_at - timedelta(seconds=60)
        db.session.commit()
        # back 40 s after its last answer: 40 s credited, not the 100 s since the stale beat
        assert clock.credit_downtime(now=answered_at + timedelta(seconds=40)) == pytest.approx(40)
        moved = (db.session.query(Attempt).one().deadline_at - deadline).total_seconds()
        assert moved == pytest.approx(40)


def test_a_second_browser_is_refused_until_the_proctor_moves_the_seat(app):
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS)
    _, first = connect(app, sitting_id, device="pc-1")
    state = last_event(first, "state", "/exam")
    emit(
        first,
        "answer",
        attempt=state["attempt"],
        seq=1,
        item=state["items"][0]["item"]["id"],
        choice="A",
    )
    _, second = connect(app, sitting_id, device="pc-7")
    assert not second.is_connected("/exam")  # refused: call the proctor
    # the same browser coming back after a network drop is welcome
    _, same = connect(app, sitting_id, device="pc-1")
    assert same.is_connected("/exam")
    with app.app_context():
        interventions.move_seat(state["attempt"], "PC-01", "user:1", "komputer mati")
        assert db.session.query(AuditEvent).filter_by(action="seat_moved").one().reason == (
            "komputer mati"
        )
    _, moved = connect(app, sitting_id, device="pc-7")
    assert moved.is_connected("/exam")
    resumed = last_event(moved, "state", "/exam")
    assert resumed["answers"] == {"1": "A"}
    assert resumed["remaining_s"] <= state["remaining_s"]


def test_a_client_sent_disconnect_event_is_refused_and_ends_nothing(app):
    """An event named "disconnect" (or "connect") from the client ran the server's own
    handler: the seat showed disconnected while the socket kept answering, and a second
    browser with a copy of the cookie got in beside it (issue 16, outsider's attack)."""
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS)
    _, first = connect(app, sitting_id, device="pc-1")
    state = last_event(first, "state", "/exam")
    for reserved in ("disconnect", "connect"):
        ack = first.emit(reserved, {}, namespace="/exam", callback=True)
        assert ack["error"] == "unknown_event", (reserved, ack)
    with app.app_context():
        attempt = db.session.get(Attempt, state["attempt"])
        assert attempt.connected_sid, "a client's event marked the seat disconnected"
    _, second = connect(app, sitting_id, device="pc-7")
    assert not second.is_connected("/exam")  # still refused: the first socket is live
    ack = emit(
        first,
        "answer",
        attempt=state["attempt"],
        seq=1,
        item=state["items"][0]["item"]["id"],
        choice="A",
    )
    assert ack["ok"], ack


def test_items_of_later_sections_are_never_sent(app):
    with app.app_context():
        sitting_id = build_sitting(SKD_SECTIONS, SKD_ITEMS)
        tkp_ids = {i.id for i in db.session.query(Item).filter_by(section="TKP")}
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    sent = [state] + [emit(sock, "sync")["state"]]
    ids = {entry["item"]["id"] for s in sent for entry in s.get("items", [])}
    assert ids and not ids & tkp_ids


def test_a_pretest_item_stays_unscored_in_an_attempt_that_met_it_before_it_went_live(
    app, monkeypatch
):
    """The attempt answered the pretest item as such; the item becomes active mid-attempt
    (calibration accepted). Its answer still does not count for this attempt: the ability
    is the EAP of the operational answers alone, by the presentation's stored flag."""
    # The slot is drawn from the attempt's seed among 9 positions; the item must go live
    # while the attempt runs, so not as its last item (1 run in 9 failed on a random seed).
    plan = SimpleNamespace(pretest_max=1, pretest_spread=True, min_length=8)
    seed = next(s for s in range(1, 1000) if irt.pretest_slots(plan, s) <= {2, 3, 4, 5})
    monkeypatch.setattr(attempts, "secrets", SimpleNamespace(randbits=lambda bits: seed))
    rng = np.random.default_rng(11)
    items = [
        dict(
            code=f"AD{j:03d}",
            section="TWK",
            model="2pl",
            a=float(rng.uniform(1.2, 2.0)),
            b=float(rng.normal()),
            key="A",
        )
        for j in range(40)
    ]
    items.append(dict(code="UJI", section="TWK", model="2pl", a=2.5, b=-3.0, key="A"))
    items[-1]["status"] = "pretest"
    sections = [
        dict(
            code="TWK",
            name="Adaptif",
            mode="adaptive",
            n_items=8,
            min_items=8,
            engine={"pretest": 1},
        )
    ]
    with app.app_context():
        sitting_id = build_sitting(sections, items)
        pretest_id = db.session.execute(db.select(Item.id).where(Item.code == "UJI")).scalar()
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    assert state["section"]["max_items"] == 9  # 8 operational + the pretest item
    seen, went_live = [], False
    while state["status"] == "in_progress":
        item = state["item"]["id"]
        seen.append(item)
        # every answer wrong: the pretest item (b = -3, a = 2.5) would pull theta far down
        ack = emit(
            sock, "answer", attempt=state["attempt"], seq=state["seq"], item=item, choice="B"
        )
        assert ack["ok"], ack
        state = ack["state"]
        if item == pretest_id and state["status"] == "in_progress":
            with app.app_context():
                banks.set_item_status(pretest_id, "active", "admin", "kalibrasi diterima")
            went_live = True
    assert pretest_id in seen and len(seen) == 9 and went_live
    with app.app_context():
        attempt = db.session.query(Attempt).one()
        pool = catalog.adaptive_pool(
            catalog.cached_exam(catalog.exam_id_of(attempt)), catalog.current_section(attempt)
        )
        operational = [pool.index[i] for i in seen if i != pretest_id]
        state_op = irt.CatState.from_responses(pool.bank, operational, [0] * len(operational))
        assert attempt.theta == pytest.approx(irt.posterior(pool.bank, state_op)[0], abs=1e-9)
        assert attempt.n_answered == 9
