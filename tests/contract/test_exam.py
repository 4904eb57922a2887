"""docs/protocol.md, namespace ``/exam`` on fixed linear sections, and the ``/proctor`` events.

One gunicorn for the module, with the reaper slowed to once an hour
(``CAT_REAPER_INTERVAL``): a deadline moved into the past then stays unnoticed
until an answer arrives, which is what the ``time_up`` and ``section_time_up``
refusals are about. The server's own pushes at a deadline are in test_delivery.py.

The exams come from the repository's test helpers: fixed sections whose items
are shown one at a time (``navigable: false``), item k of a section keyed
``"ABCDE"[k % 5]``.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
import requests
import socketio

from .clients import Recorder, Staff, Station, new_address
from .conftest import (
    ADMIN,
    OTHER_PROCTOR,
    PROCTOR,
    data_app,
    live_server,
    make_exam_sitting,
    make_staff,
    shift_exam_deadline,
    shift_section_deadline,
)

pytestmark = pytest.mark.slow

ITEM_KEYS = {"id", "stem", "options", "media"}  # § Item media: the only fields of an item


@pytest.fixture(scope="module")
def world(contract_db):
    with data_app(contract_db):
        proctor = make_staff()

        def sitting(name, sections=(("TWK", 3, None),), prefix="2026", **kw):
            return make_exam_sitting(
                list(sections), name=name, proctor=proctor, reg_prefix=prefix, **kw
            )

        return {
            "wait": sitting("wait", n_candidates=6),
            "run": sitting("run", n_candidates=10, prefix="2027"),
            "timed": sitting(
                "timed", (("TWK", 2, 1), ("TIU", 2, None)), prefix="2028", n_candidates=6
            ),
            "clip": sitting(
                "clip", (("TWK", 2, 1), ("TIU", 2, None)), prefix="2029", duration_s=40
            ),
            "four": sitting("four", (("TWK", 2, None),), prefix="2030", n_options=4),
            "hidden": sitting("hidden", (("TWK", 1, None),), prefix="2031", show_result=False),
            "seats": sitting("seats", prefix="2032", n_candidates=3, spare_seats=2),
            "pauses": sitting("pauses", prefix="2033", n_candidates=3),
            "scheduled": sitting("scheduled", prefix="2034", status="scheduled"),
            "ends": sitting("ends", prefix="2035", n_candidates=2),
            "board": sitting("board", (("TWK", 2, None),), prefix="2036", n_candidates=3),
        }


@pytest.fixture(scope="module")
def url(contract_db, world, tmp_path_factory):
    with live_server(
        contract_db, tmp_path_factory, "exam", TRUSTED_PROXIES=1, REAPER_INTERVAL=3600
    ) as server:
        yield server.url


@pytest.fixture(scope="module")
def proctor(url):
    staff = Staff(url, *PROCTOR)
    yield staff
    staff.close()


@pytest.fixture(scope="module")
def started(url, world, proctor):
    """The sittings that run, started by the proctor; one candidate of ``run`` waited for it."""
    early = Station(url, world["run"], "20270001").login().connect()
    early.state(lambda s: s["status"] == "waiting")
    acks = {
        name: proctor.act("start_sitting", world[name])
        for name in ("run", "timed", "clip", "four", "hidden", "seats", "pauses", "board")
    }
    yield {"early": early, "acks": acks}
    early.close()


@pytest.fixture
def stations():
    """Workstations of one test, closed after it."""
    made = []

    def make(url, sitting, registration_no, **connect):
        station = Station(url, sitting, registration_no).login()
        made.append(station)
        return station.connect(**connect)

    yield make
    for station in made:
        station.close()


def running(station):
    return station.state(lambda s: s["status"] == "in_progress")


def refused(station, ack, code):
    """A failed acknowledgement: its shape, and the same object as an ``exam_error`` event."""
    # § Errors: 'A failed acknowledgement is {"ok": false, "error": CODE, "message": "…",
    # "message_en": "…", …}; the same object arrives as an `exam_error` event.'
    assert ack["ok"] is False and ack["error"] == code, ack
    assert ack["message"] and ack["message_en"], ack
    assert station.wait_for("exam_error", lambda e: e == ack, timeout=5) == ack
    return ack


def answered(station):
    return station.call("sync")["state"]["answered"]


def utc(text):
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset().total_seconds() == 0, text
    return moment


def check_item(item):
    # § intro: "no message ever holds an answer key, an option score, an item parameter"
    assert set(item) <= ITEM_KEYS and {"id", "stem", "options"} <= set(item), item
    assert isinstance(item["id"], int) and item["stem"]
    for option in item["options"]:
        assert set(option) == {"label", "text"}, option
    assert [o["label"] for o in item["options"]] == list("ABCDE"[: len(item["options"])])


# --- connect ----------------------------------------------------------------------------


def test_connect_without_a_candidate_login_is_refused(url, world):
    # § /exam: "A connection without a candidate login is refused (`connect_error`, ...)"
    station = Station(url, world["wait"], "20260001")  # not logged in
    assert station.try_connect()
    assert not station.connected


def test_connect_without_a_candidate_login_says_login_required(url, world):
    # § /exam: "A connection without a candidate login is refused (`connect_error`, `login_required`)"
    refusal = Station(url, world["wait"], "20260001").try_connect()
    assert "login_required" in str(refusal)


def test_a_foreign_origin_is_refused(url):
    # § Server busy (last paragraph): "the page must be on the same origin as the server (foreign
    # origins are refused)". Over engine.io's polling handshake, where the client sets the Origin
    # header alone (the websocket client library adds its own).
    def handshake(origin):
        return requests.get(
            f"{url}/socket.io/?EIO=4&transport=polling",
            headers={"Origin": origin, "X-Forwarded-For": new_address()},
            timeout=5,
        )

    assert handshake("http://evil.example").status_code == 400
    assert handshake(url).status_code == 200


def test_protocol_mismatch_is_refused_with_the_servers_version(url, world):
    # § Versions: "if it differs, the connection is refused with `connect_error` data
    # {"error": "protocol_mismatch", "protocol": <the server's>, "message", "message_en"}"
    station = Station(url, world["wait"], "20260003").login()
    refusal = station.try_connect(device="kiosk-1", protocol=1)
    data = refusal["data"]
    assert set(data) == {"error", "protocol", "message", "message_en"}, data
    assert data["error"] == "protocol_mismatch" and data["protocol"] == 2
    assert data["message"] and data["message_en"]


def test_a_client_without_a_version_is_accepted_and_state_comes_on_connect(url, world, stations):
    # § Versions: "A client that sends no version is accepted (older clients)."
    # § Server → client: "`state` — sent on connect"; "Every `state` carries it as "protocol": 2"
    # Times: "ISO 8601 in UTC from the server clock"; waiting: no clock, seq, section, item, result
    station = stations(url, world["wait"], "20260004", auth={"device": "old-kiosk"})
    state = station.state()
    assert state["protocol"] == 2 and state["status"] == "waiting"
    assert isinstance(state["attempt"], int)
    assert state["answered"] == 0 and state["total"] == 3
    utc(state["server_time"])
    for absent in ("remaining_s", "section_remaining_s", "seq", "item", "finish_reason", "result"):
        assert absent not in state, absent
    # (doc fix) `full` and `sections` come while waiting too
    assert state["full"] is True and [s["status"] for s in state["sections"]] == ["current"]
    # § Errors: not_in_progress "the sitting has not started" | `state` | re-render
    ack = station.call("answer", {"attempt": state["attempt"], "seq": 1, "item": 1, "choice": "A"})
    assert refused(station, ack, "not_in_progress")["state"]["status"] == "waiting"


def test_a_second_browser_is_refused_while_the_first_is_live(url, world, stations):
    # § Which browser is which: "a different device is refused with `connect_error` whose message
    # is `already_connected` (and whose `data` is the error object above) while the first socket
    # is live"; § More error codes: already_connected "(connect refused)"
    first = stations(url, world["wait"], "20260005", device="browser-A")
    first.state()
    second = Station(url, world["wait"], "20260005").login()
    refusal = second.try_connect(device="browser-B")
    assert refusal["message"] == "already_connected"
    data = refusal["data"]
    assert data["ok"] is False and data["error"] == "already_connected"
    assert data["message"] and data["message_en"]
    assert first.connected
    # "A client without a device id is treated as a different browser each time."
    assert Station(url, world["wait"], "20260005").login().try_connect(auth={})["message"] == (
        "already_connected"
    )
    # "The same device coming back ... replaces its old socket"
    again = stations(url, world["wait"], "20260005", device="browser-A")
    assert again.state()["status"] == "waiting"
    first.wait_for("disconnect", timeout=5)
    assert not first.connected


def test_without_a_device_id_the_next_connection_after_the_first_closed_is_accepted(
    url, world, stations
):
    # "A client without a device id is treated as a different browser each time" - refused only
    # "while the first socket is live"
    first = stations(url, world["wait"], "20260006", auth={})
    first.state()
    first.close()
    time.sleep(0.3)
    assert stations(url, world["wait"], "20260006", auth={}).state()["status"] == "waiting"


# --- start, state, answer ---------------------------------------------------------------


def test_start_sitting_pushes_a_full_state(url, world, started):
    # § /proctor: "`start_sitting {sitting, reason?}` → {"ok": true}; every waiting attempt starts
    # now with the full time and gets a `state` on `/exam`"; § Server → client: `state` is sent
    # "when the proctor starts the sitting"; § state while in_progress (fields)
    assert all(ack == {"ok": True} for ack in started["acks"].values()), started["acks"]
    state = running(started["early"])
    assert state["protocol"] == 2 and state["status"] == "in_progress"
    assert state["remaining_s"] == pytest.approx(600, abs=2)
    assert state["section_remaining_s"] is None
    assert state["paused"] is False
    assert state["full"] is True
    assert state["seq"] == 1 and state["answered"] == 0 and state["total"] == 3
    section = state["section"]
    assert {
        "index",
        "count",
        "code",
        "name",
        "mode",
        "navigable",
        "first_seq",
        "last_seq",
        "answered",
        "max_items",
    } <= set(section)
    assert section["index"] == 1 and section["count"] == 1 and section["code"] == "TWK"
    assert section["mode"] == "fixed" and section["navigable"] is False
    assert section["first_seq"] == 1 and section["max_items"] == 3
    assert section["last_seq"] is None  # linear (doc fix)
    assert [s["status"] for s in state["sections"]] == ["current"]
    assert set(state["sections"][0]) >= {"code", "name", "mode", "status"}
    check_item(state["item"])
    assert "media" not in state["item"]  # § Item media: "(absent otherwise)"
    # linear: no answer sheet, no item list (§ state: "navigable sections only")
    assert "items" not in state and "answers" not in state and "marked" not in state
    utc(state["server_time"])


def test_start_sitting_of_another_proctor_is_forbidden(url, world):
    # § /proctor: 'A proctor of another sitting gets {"ok": false, "error": "forbidden"}.'
    other = Staff(url, *OTHER_PROCTOR)
    try:
        ack = other.act("start_sitting", world["wait"])
        assert ack["ok"] is False and ack["error"] == "forbidden"
    finally:
        other.close()


def test_answer_is_acknowledged_with_the_next_state(url, world, started, stations):
    # § Client → server: "`answer` {attempt, seq, item, choice}"; the ack {"ok": true, "state"}
    # § linear: "the section's items one at a time, forward only"
    station = stations(url, world["run"], "20270002")
    state = running(station)
    ack = station.answer(state, "A")
    assert ack["ok"] is True and "repeat" not in ack
    nxt = ack["state"]
    assert nxt["status"] == "in_progress" and nxt["answered"] == 1
    assert nxt["seq"] == 2 and nxt["item"]["id"] != state["item"]["id"]
    assert nxt["section"]["answered"] == 1
    assert nxt["full"] is False  # § state: "acks of `answer`/`mark` are `full: false`"
    check_item(nxt["item"])


def test_the_same_seq_again_after_a_reconnect_is_a_repeat(url, world, started, stations):
    # § Client → server: "A client that did not receive an acknowledgement (connection lost) sends
    # the **same** `seq` again after reconnecting; it is never stored twice."
    # '{"ok": true, "repeat": true, "state": { … }}   // this seq was already stored'
    station = stations(url, world["run"], "20270003", device="ws-3")
    state = running(station)
    station.answer(state, "A")
    station.close()
    again = stations(url, world["run"], "20270003", device="ws-3")
    running(again)
    ack = again.answer(state, "A")
    assert ack["ok"] is True and ack["repeat"] is True
    assert ack["state"]["answered"] == 1 and ack["state"]["seq"] == 2
    assert answered(again) == 1


def test_wrong_seq_carries_the_expected_seq_and_the_state(url, world, started, stations):
    # § Errors: "`wrong_seq` | `seq` is not the current one, or `item` is not the item presented at
    # `seq` | `expected_seq`, `state` | re-render from `state`"; "The attempt is unchanged."
    station = stations(url, world["run"], "20270004")
    state = running(station)
    ahead = refused(station, station.answer(state, "A", seq=2), "wrong_seq")
    assert ahead["expected_seq"] == 1 and ahead["state"]["seq"] == 1
    other_item = refused(
        station, station.answer(state, "A", item=state["item"]["id"] + 1), "wrong_seq"
    )
    assert other_item["expected_seq"] == 1
    assert answered(station) == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"attempt": None}, "attempt"),
        ({"seq": "1"}, "seq"),
        ({"item": 1.5}, "item"),
        ({"choice": "F"}, "choice"),
        ({"choice": "a"}, "choice"),
        ({"choice": None}, "choice"),
    ],
)
def test_bad_payload_names_the_field(url, world, started, stations, change, field):
    # § Errors: "`bad_payload` | payload is not {attempt:int, seq:int, item:int, choice:"A".."E"}
    # ... | `field` | fix the client; nothing stored"
    station = stations(url, world["run"], "20270005")
    state = running(station)
    payload = {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": "A",
        **change,
    }
    ack = refused(station, station.call("answer", payload), "bad_payload")
    assert ack["field"] == field
    assert answered(station) == 0


def test_bad_payload_that_is_not_an_object_has_no_field(url, world, started, stations):
    # (doc fix) § Errors: bad_payload `field` "(absent when the payload is not an object)"
    station = stations(url, world["run"], "20270005")
    running(station)
    for payload in (None, [1, 2], "A"):
        ack = refused(station, station.call("answer", payload), "bad_payload")
        assert "field" not in ack


def test_bad_payload_for_another_logins_attempt(url, world, started, stations):
    # § Errors: bad_payload "... or `attempt` is not this login's"
    station = stations(url, world["run"], "20270005")
    state = running(station)
    ack = refused(station, station.answer(state, "A", attempt=state["attempt"] + 1), "bad_payload")
    assert ack["field"] == "attempt"
    assert answered(station) == 0


def test_invalid_choice_for_an_item_with_fewer_options(url, world, started, stations):
    # § Errors: "`invalid_choice` | the item has fewer options than `choice`"
    station = stations(url, world["four"], "20300001")
    state = running(station)
    assert len(state["item"]["options"]) == 4
    refused(station, station.answer(state, "E"), "invalid_choice")
    assert answered(station) == 0


def test_time_up_refuses_a_late_answer_and_finishes(url, world, contract_db, started, stations):
    # § Errors: "`time_up` | the deadline passed before the answer arrived; the answer is **not**
    # stored and the attempt is finished | `state` | show the result / end screen"
    station = stations(url, world["run"], "20270006")
    state = running(station)
    nxt = station.answer(state, "A")["state"]
    shift_exam_deadline(contract_db, state["attempt"], -700)
    late = refused(station, station.answer(nxt, "B"), "time_up")
    end = late["state"]
    assert end["status"] == "finished" and end["finish_reason"] == "time_up"
    assert end["answered"] == 1  # the late answer was not stored
    for gone in ("remaining_s", "section_remaining_s", "seq", "section", "item"):
        assert gone not in end, gone
    # § Errors: not_in_progress "... or the attempt is finished | `state`"
    again = refused(station, station.answer(state, "A", seq=2), "not_in_progress")
    assert again["state"]["status"] == "finished"


def test_sync_returns_the_state(url, world, started, stations):
    # § Client → server: "`sync` (no payload) → {"ok": true, "state": {…}}"
    station = stations(url, world["run"], "20270007")
    state = running(station)
    ack = station.call("sync")
    assert ack["ok"] is True
    assert ack["state"]["attempt"] == state["attempt"] and ack["state"]["seq"] == state["seq"]
    assert ack["state"]["remaining_s"] <= state["remaining_s"]


def test_focus_lost_is_counted_and_flagged(url, world, started, stations, proctor):
    # § Focus loss: "`focus_lost` (no payload) → {"ok": true, "n": <times so far>} ... Counted per
    # attempt and shown to the proctor as a flag; nothing else changes."
    station = stations(url, world["run"], "20270008")
    state = running(station)
    assert station.call("focus_lost") == {"ok": True, "n": 1}
    assert station.call("focus_lost") == {"ok": True, "n": 2}
    seat = proctor.seat(world["run"], seat="PC-08")
    assert seat["focus_lost"] == 2 and "focus_lost" in seat["flags"]
    after = station.call("sync")["state"]
    assert after["seq"] == state["seq"] and after["answered"] == state["answered"]


def test_the_last_answer_finishes_the_attempt_with_the_result(url, world, started, stations):
    # § state: "`finish_reason` and `result` only when `finished`"; the result's shape
    # § linear: "the next section begins after the last answer" (here: there is none, it finishes)
    station = stations(url, world["run"], "20270009")
    state = running(station)
    for choice in "ABC":  # item k keyed "ABCDE"[k]: all right
        ack = station.answer(state, choice)
        state = ack["state"]
    assert state["status"] == "finished" and state["finish_reason"] == "completed"
    assert state["answered"] == 3
    assert state["full"] is True  # (doc fix) `full` in the finished state too
    result = state["result"]
    assert set(result) >= {"sections", "total", "pass_total", "passed"}
    (section,) = result["sections"]
    assert set(section) >= {"code", "name", "score", "pass_mark", "passed"}
    assert section["code"] == "TWK" and section["score"] == 15 and section["passed"] is True
    assert result["total"] == 15 and result["passed"] is True and result["pass_total"] is None
    for gone in ("remaining_s", "seq", "section", "item"):
        assert gone not in state


def test_no_result_when_the_exam_does_not_show_it(url, world, started, stations):
    # § state: "(`result` only if the exam shows results to candidates)"
    station = stations(url, world["hidden"], "20310001")
    end = station.answer(running(station), "A")["state"]
    assert end["status"] == "finished" and end["finish_reason"] == "completed"
    assert "result" not in end


# --- sections with a time limit of their own --------------------------------------------


def test_section_clock_and_the_next_linear_section(url, world, started, stations, proctor):
    # § Section time limits: "`section_remaining_s` — seconds left for the current section, or
    # `null` when the current section has no limit of its own. It is never more than
    # `remaining_s`." § linear: "the next section begins after the last answer"
    # § state: "Items of sections not yet begun are never sent."
    station = stations(url, world["timed"], "20280001")
    state = running(station)
    assert state["section"]["code"] == "TWK" and state["section"]["count"] == 2
    assert state["section_remaining_s"] == pytest.approx(60, abs=3)
    assert state["section_remaining_s"] <= state["remaining_s"]
    assert [s["status"] for s in state["sections"]] == ["current", "upcoming"]
    assert "TIU" not in state["item"]["stem"]
    seat = proctor.seat(world["timed"], seat="PC-01")
    # § /proctor seat snapshot: section {index, count, code, name}, section_remaining_s
    assert seat["section"] == {"index": 1, "count": 2, "code": "TWK", "name": "Bagian TWK"}
    assert seat["section_remaining_s"] == pytest.approx(60, abs=3)
    assert seat["section_remaining_s"] <= seat["remaining_s"]
    state = station.answer(state, "A")["state"]
    state = station.answer(state, "B")["state"]
    assert state["section"]["index"] == 2 and state["section"]["code"] == "TIU"
    assert state["section"]["first_seq"] == 3 and state["seq"] == 3
    assert state["section_remaining_s"] is None
    assert "TIU" in state["item"]["stem"]
    assert state["sections"][1]["status"] == "current"


def test_a_section_deadline_is_never_later_than_the_exams(url, world, started, stations):
    # § Section time limits: "its deadline is now + the limit, never later than the exam's
    # deadline" (a 1-minute section in a 40-second exam)
    state = running(stations(url, world["clip"], "20290001"))
    assert state["remaining_s"] <= 40
    assert state["section_remaining_s"] is not None
    assert state["section_remaining_s"] <= state["remaining_s"]


def test_section_time_up_refuses_a_late_answer(url, world, contract_db, started, stations):
    # § More error codes: "`section_time_up` | the current section's own time limit passed before
    # the answer (or `mark`, `finish_section`) arrived: **not** stored; the server has ended the
    # section and begun the next (or finished the attempt after the last); `state` shows where it
    # is now"; § Section time limits: "An answer for the ended section that arrives later is
    # refused (`section_over`, ...) and never stored."
    station = stations(url, world["timed"], "20280002")
    state = running(station)
    shift_section_deadline(contract_db, state["attempt"], -120)
    ack = refused(station, station.answer(state, "A"), "section_time_up")
    now = ack["state"]
    assert now["status"] == "in_progress" and now["section"]["index"] == 2
    assert now["answered"] == 0 and now["seq"] == now["section"]["first_seq"]
    assert [s["status"] for s in now["sections"]] == ["done", "current"]
    later = refused(station, station.answer(state, "A"), "section_over")
    assert later["error"] == "section_over"
    assert answered(station) == 0


# --- pause, resume, extension, end ------------------------------------------------------


def candidate_of(proctor, sitting, seat):
    return proctor.seat(sitting, seat=seat)["candidate"]


def pushed(station, after, predicate=lambda s: True):
    # § What the workstation sees: "These `state` messages arrive unasked (server push)"
    return station.state(predicate, after=after)


def test_pause_freezes_both_clocks_and_refuses_answers(url, world, started, stations, proctor):
    # § What the workstation sees: "`paused: true` ... `remaining_s` stays at what was left when the
    # pause began"; "send no `answer`, `mark` or `finish_section` (they are refused with the error
    # `paused`, nothing stored)"; "the resume pushes a new `state` with `paused: false` and
    # `remaining_s` equal to what was left at the pause"; § Section time limits: "A pause stops
    # both clocks"; § /proctor events: pause_seat, resume_seat → {"ok": true}
    sitting = world["timed"]
    station = stations(url, sitting, "20280003")
    running(station)
    candidate = candidate_of(proctor, sitting, "PC-03")
    mark = station.mark()
    assert proctor.act("pause_seat", sitting, candidate=candidate, reason="ke toilet") == {
        "ok": True
    }
    paused = pushed(station, mark, lambda s: s.get("paused") is True)
    assert paused["status"] == "in_progress"
    time.sleep(1.2)
    still = station.call("sync")["state"]
    assert still["paused"] is True
    assert still["remaining_s"] == pytest.approx(paused["remaining_s"], abs=0.15)
    assert still["section_remaining_s"] == pytest.approx(paused["section_remaining_s"], abs=0.15)
    seat = proctor.seat(sitting, candidate=candidate)
    assert seat["status"] == "paused" and seat["paused"] is True
    # the table of § Proctor interventions: `paused` | ... | `state`
    assert refused(station, station.answer(still, "A"), "paused")["state"]["paused"] is True
    finish = station.call("finish_section", {"attempt": still["attempt"], "section": 1})
    refused(station, finish, "paused")
    assert answered(station) == 0
    mark = station.mark()
    assert proctor.act("resume_seat", sitting, candidate=candidate, reason="kembali") == {
        "ok": True
    }
    resumed = pushed(station, mark, lambda s: s.get("paused") is False)
    assert resumed["remaining_s"] == pytest.approx(paused["remaining_s"], abs=0.3)
    assert resumed["section_remaining_s"] == pytest.approx(paused["section_remaining_s"], abs=0.3)
    assert station.answer(resumed, "A")["ok"] is True
    # "`not_in_progress` (... resuming one not paused, …)"
    again = proctor.act("resume_seat", sitting, candidate=candidate, reason="lagi")
    assert again["ok"] is False and again["error"] == "not_in_progress"


def test_extension_adds_minutes_to_both_clocks(url, world, started, stations, proctor):
    # § What the workstation sees: "an extension (`extend`) pushes a new `state` whose
    # `remaining_s` is larger by the minutes given"; § Section time limits: "a proctor's extension
    # ... move the section deadline by exactly the time they move the exam deadline";
    # § /proctor events: extend_seat `minutes` (1..180) "(also while paused)"
    sitting = world["timed"]
    station = stations(url, sitting, "20280004")
    before = running(station)
    candidate = candidate_of(proctor, sitting, "PC-04")
    mark = station.mark()
    ack = proctor.act(
        "extend_seat", sitting, candidate=candidate, minutes=2, reason="listrik padam"
    )
    assert ack == {"ok": True}
    after = pushed(station, mark, lambda s: s["remaining_s"] > before["remaining_s"] + 60)
    assert after["remaining_s"] == pytest.approx(before["remaining_s"] + 120, abs=3)
    assert after["section_remaining_s"] == pytest.approx(before["section_remaining_s"] + 120, abs=3)
    for minutes in (0, 181, "5"):
        bad = proctor.act("extend_seat", sitting, candidate=candidate, minutes=minutes, reason="x")
        assert bad["ok"] is False and bad["error"] == "bad_payload" and bad["field"] == "minutes"
    assert proctor.act("pause_seat", sitting, candidate=candidate, reason="jeda") == {"ok": True}
    assert proctor.act("extend_seat", sitting, candidate=candidate, minutes=1, reason="x") == {
        "ok": True
    }
    assert proctor.act("resume_seat", sitting, candidate=candidate, reason="lanjut") == {"ok": True}
    now = station.call("sync")["state"]
    assert now["remaining_s"] == pytest.approx(before["remaining_s"] + 180, abs=4)


@pytest.mark.parametrize("reason", [None, "", "x" * 2001])
def test_every_action_needs_a_reason(url, world, started, proctor, reason):
    # § /proctor events: "Every action except `start_sitting` requires a non-empty `reason`
    # (string, at most 2000 characters); without one the ack is {"ok": false, "error":
    # "bad_payload", "field": "reason"} and nothing changes."
    sitting = world["run"]
    candidate = candidate_of(proctor, sitting, "PC-10")
    payload = {"candidate": candidate}
    if reason is not None:
        payload["reason"] = reason
    ack = proctor.act("pause_seat", sitting, **payload)
    assert ack["ok"] is False and ack["error"] == "bad_payload" and ack["field"] == "reason"
    assert proctor.seat(sitting, candidate=candidate)["paused"] is False


def test_pause_and_resume_the_sitting(url, world, started, stations, proctor):
    # § /proctor events: pause_sitting → {"ok": true, "attempts": n} "every running attempt not
    # already paused is paused"; resume_seat "refused (`not_in_progress`) while the whole sitting
    # is paused"; resume_sitting "the attempts the sitting's pause stopped go on; a seat paused on
    # its own before stays paused"; § seat snapshot: "`counts` gains `paused`; `sitting` gains
    # `paused` (bool)"
    sitting = world["pauses"]
    one = stations(url, sitting, "20330001")
    two = stations(url, sitting, "20330002")
    running(one), running(two)
    first = candidate_of(proctor, sitting, "PC-01")
    assert proctor.act("pause_seat", sitting, candidate=first, reason="sakit") == {"ok": True}
    mark = two.mark()
    assert proctor.act("pause_sitting", sitting, reason="gangguan listrik") == {
        "ok": True,
        "attempts": 1,
    }
    pushed(two, mark, lambda s: s.get("paused") is True)
    watch = proctor.act("watch", sitting)
    assert watch["sitting"]["paused"] is True and watch["counts"]["paused"] == 2
    refusal = proctor.act("resume_seat", sitting, candidate=first, reason="x")
    assert refusal["ok"] is False and refusal["error"] == "not_in_progress"
    mark = two.mark()
    assert proctor.act("resume_sitting", sitting, reason="listrik menyala") == {
        "ok": True,
        "attempts": 1,
    }
    pushed(two, mark, lambda s: s.get("paused") is False)
    assert one.call("sync")["state"]["paused"] is True
    assert proctor.act("watch", sitting)["sitting"]["paused"] is False
    assert proctor.act("resume_seat", sitting, candidate=first, reason="sembuh") == {"ok": True}
    # extend_sitting: "every running attempt + minutes" → {"ok": true, "attempts": n}
    before = two.call("sync")["state"]["remaining_s"]
    ack = proctor.act("extend_sitting", sitting, minutes=1, reason="tambahan")
    assert ack == {"ok": True, "attempts": 2}
    assert two.call("sync")["state"]["remaining_s"] == pytest.approx(before + 60, abs=3)


def test_end_attempt_pushes_ended_by_proctor(url, world, started, stations, proctor):
    # § What the workstation sees: "a proctor ending the attempt pushes `status: finished` with
    # `finish_reason: "ended_by_proctor"`"; § /proctor events: end_attempt → {"ok": true}, "its
    # answers count"; "`not_in_progress` (pausing a finished attempt, …)"
    sitting = world["pauses"]
    station = stations(url, sitting, "20330003")
    state = running(station)
    station.answer(state, "A")  # right: item 1 is keyed A
    candidate = candidate_of(proctor, sitting, "PC-03")
    mark = station.mark()
    assert proctor.act("end_attempt", sitting, candidate=candidate, reason="curang") == {"ok": True}
    end = pushed(station, mark, lambda s: s["status"] == "finished")
    assert end["finish_reason"] == "ended_by_proctor"
    assert end["result"]["total"] == 5
    again = proctor.act("pause_seat", sitting, candidate=candidate, reason="x")
    assert again["ok"] is False and again["error"] == "not_in_progress"


def test_end_sitting_ends_waiting_attempts_too(url, world, stations, proctor):
    # § /proctor events: end_sitting → {"ok": true, "attempts": n} "every unfinished attempt
    # (waiting ones too) ends"
    sitting = world["ends"]
    station = stations(url, sitting, "20350001")
    assert station.state()["status"] == "waiting"
    mark = station.mark()
    assert proctor.act("end_sitting", sitting, reason="dibatalkan") == {"ok": True, "attempts": 1}
    end = pushed(station, mark, lambda s: s["status"] == "finished")
    assert end["finish_reason"] == "ended_by_proctor"


def test_open_check_in(url, world, stations, proctor):
    # § /proctor events: open_check_in "a `scheduled` sitting becomes `open`: its candidates may log
    # in and wait; `not_in_progress` if already open; `start_sitting` before it: `check_in_closed`"
    sitting = world["scheduled"]
    early = proctor.act("start_sitting", sitting)
    assert early["ok"] is False and early["error"] == "check_in_closed"
    assert proctor.act("open_check_in", sitting, reason="peserta hadir") == {"ok": True}
    assert stations(url, sitting, "20340001").state()["status"] == "waiting"
    again = proctor.act("open_check_in", sitting, reason="lagi")
    assert again["ok"] is False and again["error"] == "not_in_progress"


def test_actions_on_unknown_candidates_and_other_sittings(url, world, started, proctor):
    # § /proctor events: "Other errors: `not_found` (a candidate not of this sitting, or without an
    # attempt yet)"; 'A user who is not a proctor of the sitting (nor an admin) gets
    # {"ok": false, "error": "forbidden"} for every event.'
    foreign = candidate_of(proctor, world["wait"], "PC-01")
    ack = proctor.act("pause_seat", world["run"], candidate=foreign, reason="x")
    assert ack["ok"] is False and ack["error"] == "not_found"
    absent = candidate_of(proctor, world["ends"], "PC-02")  # never logged in: no attempt
    ack = proctor.act("extend_seat", world["ends"], candidate=absent, minutes=1, reason="x")
    assert ack["ok"] is False and ack["error"] == "not_found"
    other = Staff(url, *OTHER_PROCTOR)
    try:
        for event, payload in (
            ("watch", {}),
            ("pause_sitting", {"reason": "x"}),
            ("free_seats", {}),
            ("lockouts", {}),
            ("note_incident", {"category": "other", "text": "x"}),
        ):
            ack = other.act(event, world["run"], **payload)
            assert ack["ok"] is False and ack["error"] == "forbidden", (event, ack)
    finally:
        other.close()


def test_note_incident(url, world, proctor):
    # § /proctor events: note_incident `category` (...), `text` (instead of `reason`), `candidate`
    # optional → {"ok": true, "incident": id}
    ack = proctor.act("note_incident", world["run"], category="power", text="listrik padam 2 menit")
    assert ack["ok"] is True and isinstance(ack["incident"], int)
    candidate = candidate_of(proctor, world["run"], "PC-02")
    ack = proctor.act(
        "note_incident", world["run"], category="health", text="pusing", candidate=candidate
    )
    assert ack["ok"] is True


# --- seats ------------------------------------------------------------------------------


def test_move_seat(url, world, started, stations, proctor):
    # § /proctor events, free_seats: "read only: the seats of the sitting no candidate sits at, in
    # room order"; move_seat: "`seat_taken` (409) if another candidate sits there, `not_found` for
    # a label the room does not have, both with `free` (the free seats)"; "the old workstation is
    # disconnected; the candidate logs in on the new one and continues. With `add_seat: true` a
    # label the room does not have becomes a spare seat at the end of the room"
    # § Which browser is which: "A proctor's seat move (`move_seat`) clears the mark"
    sitting = world["seats"]
    old = stations(url, sitting, "20320001", device="pc-01")
    state = old.answer(running(old), "A")["state"]
    candidate = candidate_of(proctor, sitting, "PC-01")
    assert proctor.act("free_seats", sitting) == {"ok": True, "seats": ["PC-04", "PC-05"]}
    taken = proctor.act("move_seat", sitting, candidate=candidate, seat="PC-02", reason="rusak")
    assert taken["ok"] is False and taken["error"] == "seat_taken"
    assert taken["free"] == ["PC-04", "PC-05"]
    unknown = proctor.act("move_seat", sitting, candidate=candidate, seat="PC-99", reason="rusak")
    assert unknown["ok"] is False and unknown["error"] == "not_found"
    assert unknown["free"] == ["PC-04", "PC-05"]
    assert proctor.act("move_seat", sitting, candidate=candidate, seat="PC-05", reason="rusak") == {
        "ok": True
    }
    old.wait_for("disconnect", timeout=5)
    new = stations(url, sitting, "20320001", device="pc-05")
    now = running(new)
    assert now["attempt"] == state["attempt"] and now["seq"] == state["seq"]
    assert now["answered"] == 1
    assert proctor.act("free_seats", sitting)["seats"] == ["PC-01", "PC-04"]
    seat = proctor.seat(sitting, candidate=candidate)
    assert seat["seat"] == "PC-05" and seat["moves"] == 1
    ack = proctor.act(
        "move_seat",
        sitting,
        candidate=candidate,
        seat="PC-09",
        add_seat=True,
        reason="kursi cadangan",
    )
    assert ack == {"ok": True}
    seat = proctor.seat(sitting, candidate=candidate)
    assert seat["seat"] == "PC-09" and seat["moves"] == 2
    # "`many_moves`: 2+ approved seat moves"
    assert "many_moves" in seat["flags"]
    assert proctor.act("free_seats", sitting)["seats"] == ["PC-01", "PC-04", "PC-05"]


def test_watch_and_the_coalesced_seat_feed(url, world, started, stations):
    # § /proctor: "`watch {sitting}` → ack {"ok": true, "sitting": {...}, "server_time", "full":
    # true, "counts": {...}, "seats": [...]}"; "`seats` messages of the same shape with
    # `full: false`, holding only the seats that changed, coalesced: at most one message per
    # 0.25 s per proctor socket"; the seat snapshot's fields
    sitting = world["run"]
    station = stations(url, sitting, "20270010")
    running(station)
    console = Staff(url, *PROCTOR)
    try:
        ack = console.act("watch", sitting)
        assert ack["ok"] is True and ack["full"] is True
        assert set(ack) >= {"sitting", "server_time", "counts", "seats"}
        assert set(ack["counts"]) >= {
            "absent",
            "waiting",
            "answering",
            "paused",
            "disconnected",
            "finished",
        }
        assert set(ack["sitting"]) >= {"paused", "board"}
        utc(ack["server_time"])
        assert len(ack["seats"]) == 10
        for seat in ack["seats"]:
            assert set(seat) >= {
                "candidate",
                "seat",
                "registration_no",
                "name",
                "status",
                "answered",
                "total",
                "remaining_s",
                "section",
                "section_remaining_s",
                "last_seen",
                "connected",
                "paused",
                "started_at",
                "last_answer_at",
                "finish_reason",
                "moves",
                "focus_lost",
                "lz",
                "lockout",
                "flags",
            }, seat
            assert seat["status"] in {
                "absent",
                "waiting",
                "answering",
                "paused",
                "disconnected",
                "finished",
            }
        mine = next(s for s in ack["seats"] if s["registration_no"] == "20270010")
        assert mine["status"] == "answering" and mine["connected"] is True
        # "`section` is `null` unless the attempt is in progress"
        assert all(s["section"] is None for s in ack["seats"] if s["status"] == "absent")
        mark = console.mark()
        for _ in range(12):
            station.call("focus_lost")
            time.sleep(0.05)
        console.wait_for(
            "seats", lambda m: any(s["focus_lost"] == 12 for s in m["seats"]), after=mark
        )
        messages = console.events[mark:]
        stamps = console.stamps[mark:]
        assert len(messages) >= 2
        for _, message in messages:
            assert message["full"] is False
            assert set(message) >= {"sitting", "server_time", "counts", "seats"}
            assert 0 < len(message["seats"]) < len(ack["seats"])  # only the changed ones
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        assert min(gaps) >= 0.2, gaps  # 0.25 s at the server; a little slack for the network
    finally:
        console.close()


def test_watching_another_sitting_switches(url, world, started, stations):
    # § /proctor: "One socket watches one sitting (watching another switches)."
    console = Staff(url, *PROCTOR)
    try:
        assert console.act("watch", world["run"])["ok"] is True
        assert console.act("watch", world["wait"])["ok"] is True
        mark = console.mark()
        busy = stations(url, world["run"], "20270007")
        running(busy)
        busy.call("focus_lost")
        stations(url, world["wait"], "20260001").state()
        message = console.wait_for("seats", after=mark)
        time.sleep(0.6)
        sittings = {m["sitting"]["id"] for _, m in console.events[mark:]}
        assert sittings == {world["wait"]}, sittings
        assert message["sitting"]["id"] == world["wait"]
    finally:
        console.close()


def test_proctor_namespace_requires_a_staff_login(url):
    # § /proctor: "Requires a staff login (Flask-Login session)."
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            url,
            namespaces=["/proctor"],
            transports=["websocket"],
            wait_timeout=5,
            headers={"X-Forwarded-For": new_address()},
        )


# --- /board -----------------------------------------------------------------------------


def test_board(url, world, started, stations, proctor):
    # § Namespace /board: "No login. `watch {sitting}` → {"ok": true, "sitting": {"name", "exam",
    # "room", "status"}, "fields": [...], "sections": [{"code", "name", "pass_mark"}],
    # "pass_total", "rows": [...]} or {"ok": false, "error": "not_found"} when the exam's board is
    # off (the same for an unknown sitting)"; "A row holds only the exam's `board_fields` ... plus
    # `status`"; "`registration_no` — always masked"; "`sections`, `total` and `passed` are null
    # until the attempt is finished"; "No database id is ever sent."; "`board` messages of the
    # same shape ... or {"off": true}"; "The page is `GET /board/<sitting>` (404 when off)."
    # § /proctor events: configure_board "admin only" → {"ok": true, "board": {"enabled", "fields"}}
    sitting = world["board"]
    board = Recorder("/board", ["board"])
    board.sio.connect(
        url,
        namespaces=["/board"],
        transports=["websocket"],
        headers={"X-Forwarded-For": new_address()},
    )
    admin = Staff(url, *ADMIN)
    try:
        off = board.call("watch", {"sitting": sitting})
        assert off["ok"] is False and off["error"] == "not_found"
        unknown = board.call("watch", {"sitting": 987654})
        assert unknown["ok"] is False and unknown["error"] == "not_found"
        assert requests.get(f"{url}/board/{sitting}", timeout=5).status_code == 404
        denied = proctor.act("configure_board", sitting, enabled=True, reason="x")
        assert denied["ok"] is False and denied["error"] == "forbidden"

        done = stations(url, sitting, "20360001")
        state = running(done)
        state = done.answer(state, "A")["state"]
        done.answer(state, "B")  # both right: finished, 10 points
        busy = stations(url, sitting, "20360002")
        running(busy)

        fields = ["seat", "registration_no", "sections", "total", "passed", "progress"]
        ack = admin.act("configure_board", sitting, enabled=True, fields=fields, reason="papan")
        assert ack["ok"] is True and ack["board"]["enabled"] is True
        assert set(ack["board"]["fields"]) == set(fields)
        assert requests.get(f"{url}/board/{sitting}", timeout=5).status_code == 200
        snapshot = board.call("watch", {"sitting": sitting})
        assert snapshot["ok"] is True
        assert set(snapshot["sitting"]) >= {"name", "exam", "room", "status"}
        assert set(snapshot["fields"]) == set(fields)
        assert snapshot["sections"] == [{"code": "TWK", "name": "Bagian TWK", "pass_mark": 5}]
        assert "pass_total" in snapshot
        rows = {row["seat"]: row for row in snapshot["rows"]}
        for row in rows.values():
            assert set(row) == set(fields) | {"status"}, row
            assert row["status"] in {"waiting", "in_progress", "finished"}
            assert re.fullmatch(r"\d+\*{4}\d+", row["registration_no"]), row["registration_no"]
            assert "20360001" not in str(row)
        assert rows["PC-01"]["status"] == "finished"
        assert rows["PC-01"]["sections"] == {"TWK": 10} and rows["PC-01"]["total"] == 10
        assert rows["PC-01"]["passed"] is True
        assert rows["PC-02"]["status"] == "in_progress"
        assert rows["PC-02"]["sections"] is None and rows["PC-02"]["total"] is None
        assert rows["PC-02"]["passed"] is None
        assert rows["PC-02"]["progress"] == {"answered": 0, "total": 2}
        assert "PC-03" not in rows  # (doc fix) never logged in: no attempt, no row
        assert not _has_key(snapshot, {"id", "candidate", "attempt"})

        mark = board.mark()
        busy.answer(busy.last_state(), "A")
        message = board.wait_for(
            "board",
            lambda m: any(
                r["progress"]["answered"] == 1 for r in m.get("rows", []) if r["seat"] == "PC-02"
            ),
            after=mark,
        )
        # "a full snapshot at most once a second while seats change": the second answer right
        # after the first comes in a later snapshot, a second or more after the one above
        busy.answer(busy.call("sync")["state"], "B")
        board.wait_for(
            "board",
            lambda m: any(r["status"] == "finished" for r in m["rows"] if r["seat"] == "PC-02"),
            after=mark,
        )
        gaps = [b - a for a, b in zip(board.stamps[mark:], board.stamps[mark + 1 :], strict=False)]
        assert gaps and min(gaps) >= 0.9, gaps
        assert set(message) >= {"sitting", "fields", "sections", "pass_total", "rows"}
        assert not _has_key(message, {"id", "candidate", "attempt"})
        row = next(r for r in message["rows"] if r["seat"] == "PC-02")
        assert row["progress"] == {"answered": 1, "total": 2} and row["total"] is None
        finished = next(r for r in board.events[-1][1]["rows"] if r["seat"] == "PC-02")
        assert finished["total"] is not None and finished["sections"] is not None

        mark = board.mark()
        assert admin.act("configure_board", sitting, enabled=False, reason="selesai")["ok"] is True
        assert board.wait_for("board", lambda m: m.get("off") is True, after=mark) == {"off": True}
        assert requests.get(f"{url}/board/{sitting}", timeout=5).status_code == 404
    finally:
        admin.close()
        board.close()


def _has_key(value, keys):
    if isinstance(value, dict):
        return any(k in keys or _has_key(v, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_key(v, keys) for v in value)
    return False
