"""docs/protocol.md: navigable and adaptive sections, item media, and the server's own pushes.

On the session's ``centre`` server (conftest.py). The data comes through
documented doors: ``cat-server demo`` (README: "Sesi Demo 1", SKD with free
navigation; "Sesi Demo 2", an adaptive test), ``cat-server load-bank`` with a
.zip of a bank and its media (docs/admin.md, docs/formats.md), and the
repository's ``make_sitting``-style helper for linear sections with a time
limit of their own. (An exam made on /admin/exams has linear sections, so the
navigable ones here are the demo's.) The reaper runs at its default pace, so
the server's pushes at a deadline come within a second or two.
"""

from __future__ import annotations

import struct
import zipfile
import zlib

import pytest
import requests

from cat_server.extensions import db
from cat_server.models import Item, ItemBank

from .clients import PIN, Staff, Station
from .conftest import (
    DEMO_ADMIN,
    DEMO_PROCTOR,
    OTHER_PROCTOR,
    make_exam_sitting,
    shift_exam_deadline,
    shift_section_deadline,
)

pytestmark = pytest.mark.slow


def tiny_png() -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


TINY_MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x64" + bytes(413)) * 3

MEDIA_BANK = (
    "item_id,section,model,a,b,stem,option_a,option_b,option_c,option_d,key,media\n"
    "M1,TWK,2pl,1,0,Gambar apa?,a,b,c,d,A,media/kunci-A.png\n"
    "M2,TWK,2pl,1,0,Suara apa?,a,b,c,d,B,media/kunci-B.mp3\n"
    "M3,TWK,2pl,1,0,Tanpa media?,a,b,c,d,C,\n"
)


@pytest.fixture(scope="module")
def world(centre, tmp_path_factory):
    bank_zip = tmp_path_factory.mktemp("bank") / "bank-media.zip"
    with zipfile.ZipFile(bank_zip, "w") as archive:
        archive.writestr("bank.csv", MEDIA_BANK)
        archive.writestr("media/kunci-A.png", tiny_png())
        archive.writestr("media/kunci-B.mp3", TINY_MP3)
    with centre.data() as app:
        loaded = app.test_cli_runner().invoke(
            args=["load-bank", str(bank_zip), "--name", "Bank Media"]
        )
        assert loaded.exit_code == 0, loaded.output
        bank = db.session.query(ItemBank).filter_by(name="Bank Media").one()
        media_items = {i.code: i.id for i in db.session.query(Item).filter_by(bank_id=bank.id)}

        def sitting(name, sections, prefix, **kw):
            return make_exam_sitting(
                sections, name=name, proctor=app.proctor, reg_prefix=prefix, **kw
            )

        return {
            "demo": centre.demo,
            "media": sitting("media", [("TWK", 3, None)], "2040", n_candidates=3, bank_id=bank.id),
            "media_items": media_items,
            "timed": sitting("timed", [("TWK", 2, 1), ("TIU", 2, None)], "2041"),
            "last": sitting("last", [("TWK", 2, 1)], "2042", n_candidates=1),
            "expire": sitting("expire", [("TWK", 2, None)], "2043", n_candidates=1),
            "held": sitting("held", [("TWK", 2, None)], "2044", n_candidates=1),
        }


@pytest.fixture(scope="module")
def url(centre, world):
    return centre.url


@pytest.fixture(scope="module")
def contract_db(centre):
    return centre.db


@pytest.fixture(scope="module")
def proctor(url):
    staff = Staff(url, *DEMO_PROCTOR)
    yield staff
    staff.close()


@pytest.fixture(scope="module")
def skd(world, proctor):
    """The demo's SKD sitting (README: "free navigation with a numbered strip"), started; its
    candidates handed out one at a time."""
    demo = world["demo"]["Sesi Demo 1"]
    assert proctor.act("start_sitting", demo["id"]) == {"ok": True}
    return {"id": demo["id"], "candidates": iter(demo["candidates"])}


def skd_station(url, skd, stations):
    registration_no, pin, _ = next(skd["candidates"])
    return stations(url, skd["id"], registration_no, pin)


@pytest.fixture
def stations():
    made = []

    def make(url, sitting, registration_no, pin, **connect):
        station = Station(url, sitting, registration_no, pin=pin).login()
        made.append(station)
        return station.connect(**connect)

    yield make
    for station in made:
        station.close()


def running(station):
    return station.state(lambda s: s["status"] == "in_progress")


def refused(station, ack, code):
    # § Errors: a failed ack, "the same object arrives as an `exam_error` event"
    assert ack["ok"] is False and ack["error"] == code, ack
    assert station.wait_for("exam_error", lambda e: e == ack, timeout=5) == ack
    return ack


def answer(station, state, seq, choice):
    item = next(entry["item"] for entry in state["items"] if entry["seq"] == seq)
    return station.call(
        "answer", {"attempt": state["attempt"], "seq": seq, "item": item["id"], "choice": choice}
    )


def finish(station, state):
    return station.call(
        "finish_section", {"attempt": state["attempt"], "section": state["section"]["index"]}
    )


# --- navigable (the demo's SKD: TWK 30, TIU 35, TKP 45 items) ---------------------------


def test_a_navigable_section_sends_all_its_items(url, skd, stations):
    # § Sections: "fixed, navigable (SKD style): all items of the section are presented when the
    # section begins"; § state while in_progress: `items` "every item of the current section, sent
    # when `full` is true (on connect ...)"; "`answers` and `marked` ... the whole current answer
    # sheet of the section"; "`seq`/`item`: ... in navigable sections the first unanswered item"
    station = skd_station(url, skd, stations)
    state = running(station)
    section = state["section"]
    assert section["mode"] == "fixed" and section["navigable"] is True
    assert section["index"] == 1 and section["count"] == 3 and section["code"] == "TWK"
    assert (section["first_seq"], section["last_seq"], section["max_items"]) == (1, 30, 30)
    assert state["full"] is True
    assert [entry["seq"] for entry in state["items"]] == list(range(1, 31))
    assert len({entry["item"]["id"] for entry in state["items"]}) == 30
    for entry in state["items"]:
        assert set(entry["item"]) <= {"id", "stem", "options", "media"}
    assert state["answers"] == {} and state["marked"] == []
    assert state["seq"] == 1 and state["item"] == state["items"][0]["item"]
    assert [s["status"] for s in state["sections"]] == ["current", "upcoming", "upcoming"]


def test_answers_in_any_order_changes_and_repeats(url, skd, stations):
    # § More client → server events: "in a navigable section `seq` may be any seq of the current
    # section. The same `seq` with another `choice` changes the answer ... The same `seq` with the
    # same `choice` as stored is a repeat: nothing stored, {"ok": true, "repeat": true, ...}"
    # § state: "acks of `answer`/`mark` are `full: false` and leave `items` out"
    station = skd_station(url, skd, stations)
    state = running(station)
    ack = answer(station, state, 7, "B")
    assert ack["ok"] is True and "repeat" not in ack
    after = ack["state"]
    assert after["full"] is False and "items" not in after
    assert after["answers"] == {"7": "B"} and after["answered"] == 1
    assert after["seq"] == 1  # still the first unanswered
    changed = answer(station, state, 7, "C")
    assert changed["ok"] is True and "repeat" not in changed
    assert changed["state"]["answers"] == {"7": "C"} and changed["state"]["answered"] == 1
    repeat = answer(station, state, 7, "C")
    assert repeat["ok"] is True and repeat["repeat"] is True
    assert repeat["state"]["answers"] == {"7": "C"}
    after = answer(station, state, 1, "A")["state"]
    assert after["seq"] == 2 and after["answers"] == {"1": "A", "7": "C"}
    item = state["items"][1]["item"]["id"]  # not the item at seq 1
    wrong = station.call(
        "answer", {"attempt": state["attempt"], "seq": 1, "item": item, "choice": "A"}
    )
    refused(station, wrong, "wrong_seq")
    assert "expected_seq" in wrong and "state" in wrong


def test_the_ack_of_a_repeated_answer_is_not_full(url, skd, stations):
    station = skd_station(url, skd, stations)
    state = running(station)
    answer(station, state, 2, "A")
    repeat = answer(station, state, 2, "A")
    assert repeat["repeat"] is True
    assert repeat["state"]["full"] is False and "items" not in repeat["state"]


def test_the_ack_of_mark_is_not_full(url, skd, stations):
    station = skd_station(url, skd, stations)
    state = running(station)
    marked = station.call("mark", {"attempt": state["attempt"], "seq": 3, "marked": True})
    assert marked["ok"] is True
    assert marked["state"]["full"] is False and "items" not in marked["state"]


def test_mark_sync_and_finish_section(url, skd, stations):
    # § More client → server events: "`mark {attempt, seq, marked}` → {"ok": true, "state": …}";
    # "`finish_section {attempt, section}` ... → {"ok": true, "state": …}: end the current section;
    # its answers can no longer change. The next section begins (its items in the state,
    # `full: true`) ... Sending it again for a section already ended returns the current state
    # and changes nothing." § More error codes: "`section_over` | `seq` belongs to a section that
    # has ended"; § state: "Items of sections not yet begun are never sent."
    station = skd_station(url, skd, stations)
    state = running(station)
    attempt = state["attempt"]
    marked = station.call("mark", {"attempt": attempt, "seq": 2, "marked": True})
    assert marked["ok"] is True and marked["state"]["marked"] == [2]
    unmarked = station.call("mark", {"attempt": attempt, "seq": 2, "marked": False})
    assert unmarked["state"]["marked"] == []
    station.call("mark", {"attempt": attempt, "seq": 12, "marked": True})
    answer(station, state, 1, "A")
    synced = station.call("sync")["state"]
    assert synced["full"] is True and len(synced["items"]) == 30
    assert synced["answers"] == {"1": "A"} and synced["marked"] == [12]

    ended = finish(station, state)
    assert ended["ok"] is True
    nxt = ended["state"]
    assert nxt["full"] is True and nxt["section"]["index"] == 2 and nxt["section"]["code"] == "TIU"
    assert [entry["seq"] for entry in nxt["items"]] == list(range(31, 66))
    twk = {entry["item"]["id"] for entry in state["items"]}
    assert not twk & {entry["item"]["id"] for entry in nxt["items"]}
    assert nxt["answers"] == {} and nxt["marked"] == []
    assert [s["status"] for s in nxt["sections"]] == ["done", "current", "upcoming"]
    late = refused(station, answer(station, state, 1, "B"), "section_over")
    assert late["message"] and late["message_en"]
    again = station.call("finish_section", {"attempt": attempt, "section": 1})
    assert again["ok"] is True and again["repeat"] is True  # (doc fix: `repeat`)
    assert again["state"]["section"]["index"] == 2
    assert again["state"]["answers"] == {}
    # (doc fix) a section neither current nor ended: bad_payload, field section
    ahead = station.call("finish_section", {"attempt": attempt, "section": 3})
    assert refused(station, ahead, "bad_payload")["field"] == "section"
    # (doc fix) bad_payload for a `mark` payload too
    bad = station.call("mark", {"attempt": attempt, "seq": 31, "marked": "yes"})
    assert refused(station, bad, "bad_payload")["field"] == "marked"
    assert station.call("sync")["state"]["answered"] == 1


def test_mark_while_paused_is_refused(url, skd, proctor, stations):
    # § Proctor interventions: "send no `answer`, `mark` or `finish_section` (they are refused with
    # the error `paused`, nothing stored)"
    registration_no, pin, seat = next(skd["candidates"])
    station = stations(url, skd["id"], registration_no, pin)
    state = running(station)
    candidate = proctor.seat(skd["id"], seat=seat)["candidate"]
    mark = station.mark()
    assert proctor.act("pause_seat", skd["id"], candidate=candidate, reason="jeda") == {"ok": True}
    station.state(lambda s: s.get("paused") is True, after=mark)
    ack = station.call("mark", {"attempt": state["attempt"], "seq": 4, "marked": True})
    assert refused(station, ack, "paused")["state"]["marked"] == []
    assert proctor.act("resume_seat", skd["id"], candidate=candidate, reason="lanjut") == {
        "ok": True
    }
    assert station.call("sync")["state"]["marked"] == []


def test_a_seq_of_a_section_not_begun_is_section_over(url, skd, stations):
    station = skd_station(url, skd, stations)
    state = running(station)
    ack = station.call(
        "answer",
        {
            "attempt": state["attempt"],
            "seq": 31,
            "item": state["items"][0]["item"]["id"],
            "choice": "A",
        },
    )
    assert ack["ok"] is False and ack["error"] == "section_over"


def test_the_simple_client_works_through_every_section(url, skd, stations):
    # § state: "`seq`/`item` ... (`null` when all are answered). A simple client that always answers
    # `seq`/`item` and sends `finish_section` when `seq` is `null` works everywhere."
    # § Server → client: `result` {"sections": [{"code", "name", "score", "pass_mark", "passed"}],
    # "total", "pass_total", "passed"}
    station = skd_station(url, skd, stations)
    state = running(station)
    while state["status"] == "in_progress":
        if state["seq"] is None:
            assert state["item"] is None
            state = finish(station, state)["state"]
            continue
        ack = station.answer(state, "A")
        assert ack["ok"] is True, ack
        state = ack["state"]
    assert state["finish_reason"] == "completed" and state["answered"] == 110
    result = state["result"]
    assert [s["code"] for s in result["sections"]] == ["TWK", "TIU", "TKP"]
    for section in result["sections"]:
        assert set(section) >= {"code", "name", "score", "pass_mark", "passed"}
    assert result["total"] == sum(s["score"] for s in result["sections"])
    assert set(result) >= {"pass_total", "passed"}


def twk_score(station, state):
    while state["status"] == "in_progress":
        state = finish(station, state)["state"]
    return next(s["score"] for s in state["result"]["sections"] if s["code"] == "TWK")


def test_the_latest_answer_counts(url, skd, stations):
    # § More client → server events: "The same `seq` with another `choice` changes the answer
    # (stored as a new response row; the latest counts)." The key of one item is found first by
    # five candidates answering only that item, one letter each.
    people = [(skd_station(url, skd, stations),) for _ in range(7)]
    states = [running(p[0]) for p in people]
    common = set.intersection(*({e["item"]["id"] for e in s["items"]} for s in states))
    if not common:
        pytest.skip("no item shared by seven candidates' forms")
    target = min(common)

    def seq_of(state):
        return next(e["seq"] for e in state["items"] if e["item"]["id"] == target)

    scores = {}
    for (station,), state, letter in zip(people[:5], states[:5], "ABCDE", strict=True):
        answer(station, state, seq_of(state), letter)
        scores[letter] = twk_score(station, station.call("sync")["state"])
    right = [letter for letter, score in scores.items() if score > 0]
    assert len(right) == 1, scores
    key = right[0]
    wrong = "A" if key != "A" else "B"
    (first,), (second,) = people[5], people[6]
    answer(first, states[5], seq_of(states[5]), key)
    answer(first, states[5], seq_of(states[5]), wrong)  # right, then changed to wrong
    answer(second, states[6], seq_of(states[6]), wrong)
    answer(second, states[6], seq_of(states[6]), key)  # wrong, then changed to right
    assert twk_score(first, first.call("sync")["state"]) == 0
    assert twk_score(second, second.call("sync")["state"]) == scores[key]


# --- adaptive ---------------------------------------------------------------------------


def test_an_adaptive_section(url, world, proctor, stations):
    # § Sections: "adaptive: one item at a time chosen by the IRT engine after each answer, forward
    # only, until the section's stopping rule is met; then the next section begins by itself"
    # (README: the demo's adaptive test stops at SE <= 0.3, 15-40 items; it has one section)
    demo = world["demo"]["Sesi Demo 2"]
    registration_no, pin, _ = demo["candidates"][0]
    station = stations(url, demo["id"], registration_no, pin)
    station.state(lambda s: s["status"] == "waiting")
    assert proctor.act("start_sitting", demo["id"]) == {"ok": True}
    state = running(station)
    assert state["section"]["mode"] == "adaptive" and state["section"]["navigable"] is False
    assert state["section"]["last_seq"] is None  # (doc fix)
    assert "items" not in state and "answers" not in state
    first = state
    seen = set()
    while state["status"] == "in_progress":
        assert state["item"]["id"] not in seen  # never the same item twice
        seen.add(state["item"]["id"])
        assert set(state["item"]) <= {"id", "stem", "options", "media"}
        ack = station.answer(state, "ABCDE"[len(seen) % 5])
        assert ack["ok"] is True, ack
        assert "items" not in ack["state"]
        if ack["state"]["status"] == "in_progress":
            assert ack["state"]["seq"] == state["seq"] + 1
        state = ack["state"]
        if len(seen) == 1:
            back = refused(station, station.answer(first, "A"), "wrong_seq")  # forward only
            assert back["expected_seq"] == 2
    assert state["finish_reason"] == "completed"
    assert 15 <= state["answered"] == len(seen) <= 40


# --- item media -------------------------------------------------------------------------


def test_item_media(url, world, proctor, stations):
    # § HTTP, GET /exam/media/<item>: "200 with the file, its content type (`image/png`, ...,
    # `audio/mpeg`, ...), `Cache-Control: private, no-store`, `ETag`/`Last-Modified` (a
    # revalidation gets 304); **only** for an item already presented to this login's attempt
    # **while it runs** (not while waiting for the start ...; not after the end) — any other item
    # (not presented yet, another candidate's, without media) is 404; without a candidate login
    # 403. Admins may fetch any item's media, a proctor only that of banks used by sittings they
    # proctor (404 otherwise). No file name in any header (no `Content-Disposition`)."
    # § Item media: '"media": "image" or "media": "audio" (absent otherwise)'
    sitting, items = world["media"], world["media_items"]
    first = stations(url, sitting, "20400001", PIN)
    first.state(lambda s: s["status"] == "waiting")
    assert first.http.get(f"{url}/exam/media/{items['M1']}").status_code == 404  # waiting
    second = stations(url, sitting, "20400002", PIN)
    assert proctor.act("start_sitting", sitting) == {"ok": True}
    state = running(first)
    assert state["item"]["id"] == items["M1"] and state["item"]["media"] == "image"
    image = first.http.get(f"{url}/exam/media/{items['M1']}")
    assert image.status_code == 200 and image.content == tiny_png()
    assert image.headers["Content-Type"] == "image/png"
    assert image.headers["Cache-Control"] == "private, no-store"
    assert "Content-Disposition" not in image.headers
    assert not any("kunci" in f"{k}: {v}" for k, v in image.headers.items())
    etag, modified = image.headers["ETag"], image.headers["Last-Modified"]
    assert (
        first.http.get(
            f"{url}/exam/media/{items['M1']}", headers={"If-None-Match": etag}
        ).status_code
        == 304
    )
    assert (
        first.http.get(
            f"{url}/exam/media/{items['M1']}", headers={"If-Modified-Since": modified}
        ).status_code
        == 304
    )
    assert first.http.get(f"{url}/exam/media/{items['M2']}").status_code == 404  # not yet
    assert requests.get(f"{url}/exam/media/{items['M1']}", timeout=5).status_code == 403

    state = first.answer(state, "A")["state"]
    assert state["item"]["id"] == items["M2"] and state["item"]["media"] == "audio"
    audio = first.http.get(f"{url}/exam/media/{items['M2']}")
    assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/mpeg"
    assert "Content-Disposition" not in audio.headers
    running(second)
    assert second.http.get(f"{url}/exam/media/{items['M2']}").status_code == 404  # another's

    state = first.answer(state, "B")["state"]
    assert state["item"]["id"] == items["M3"] and "media" not in state["item"]
    assert first.http.get(f"{url}/exam/media/{items['M3']}").status_code == 404  # no media

    admin = Staff(url, *DEMO_ADMIN)
    other = Staff(url, *OTHER_PROCTOR)
    try:
        assert admin.http.get(f"{url}/exam/media/{items['M2']}").status_code == 200
        assert proctor.http.get(f"{url}/exam/media/{items['M2']}").status_code == 200
        assert other.http.get(f"{url}/exam/media/{items['M2']}").status_code == 404
    finally:
        admin.close()
        other.close()

    end = first.answer(state, "C")["state"]
    assert end["status"] == "finished"
    assert first.http.get(f"{url}/exam/media/{items['M1']}").status_code == 404  # after the end


# --- the server's own pushes --------------------------------------------------------------


@pytest.fixture(scope="module")
def deadlines(url, world, contract_db, proctor):
    """Four sittings started (one seat paused), their deadlines moved into the past at once: the
    tests below wait for one pass of the reaper rather than one each."""
    stations, states = {}, {}
    for name, registration_no in (
        ("timed", "20410001"),
        ("last", "20420001"),
        ("expire", "20430001"),
        ("held", "20440001"),
    ):
        station = Station(url, world[name], registration_no).login().connect()
        station.state(lambda s: s["status"] == "waiting")
        assert proctor.act("start_sitting", world[name]) == {"ok": True}
        stations[name], states[name] = station, running(station)
    assert states["timed"]["section_remaining_s"] == pytest.approx(60, abs=3)
    assert stations["expire"].answer(states["expire"], "A")["ok"] is True  # keyed A: 5 points
    held = proctor.seat(world["held"], seat="PC-01")["candidate"]
    assert proctor.act("pause_seat", world["held"], candidate=held, reason="sakit") == {"ok": True}
    marks = {name: station.mark() for name, station in stations.items()}
    shift_section_deadline(contract_db, states["timed"]["attempt"], -70)
    shift_section_deadline(contract_db, states["last"]["attempt"], -70)
    shift_exam_deadline(contract_db, states["expire"]["attempt"], -610)
    shift_exam_deadline(contract_db, states["held"]["attempt"], -610)
    yield stations, states, marks
    for station in stations.values():
        station.close()


def test_the_server_ends_a_section_at_its_deadline(deadlines):
    # § Server → client: `state` is sent "when the server ends a section whose own time is up";
    # § Section time limits: "at the section deadline it ends the section itself ..., begins the
    # next one and pushes the new `state` (`full: true`, ... its `section_remaining_s`) unasked";
    # "An answer for the ended section that arrives later is refused (`section_over` ...)"
    stations, states, marks = deadlines
    station, state = stations["timed"], states["timed"]
    nxt = station.state(lambda s: s["section"]["index"] == 2, after=marks["timed"], timeout=15)
    assert nxt["full"] is True and nxt["section"]["code"] == "TIU"
    assert nxt["section_remaining_s"] is None and nxt["seq"] == nxt["section"]["first_seq"]
    assert [s["status"] for s in nxt["sections"]] == ["done", "current"]
    refused(station, station.answer(state, "A"), "section_over")
    assert station.call("sync")["state"]["answered"] == 0


def test_the_last_sections_deadline_finishes_with_time_up(deadlines):
    # § Section time limits: "after the last section the attempt finishes with
    # `finish_reason: "time_up"`"
    stations, _, marks = deadlines
    end = stations["last"].state(
        lambda s: s["status"] == "finished", after=marks["last"], timeout=15
    )
    assert end["finish_reason"] == "time_up"


def test_the_server_finishes_the_attempt_at_the_deadline(deadlines):
    # § Server → client: `state` is sent "when the server finishes the attempt (time up)";
    # `finish_reason` "completed | time_up", `result` when the exam shows it
    stations, _, marks = deadlines
    end = stations["expire"].state(
        lambda s: s["status"] == "finished", after=marks["expire"], timeout=15
    )
    assert end["finish_reason"] == "time_up" and end["answered"] == 1
    assert end["result"]["total"] == 5


def test_the_reaper_never_finishes_a_paused_attempt(deadlines):
    # § /proctor events, pause_seat: "the attempt's clock stops (`paused_at`); answers refused with
    # `paused`; the reaper never finishes it" - its deadline passed with the one above, which the
    # reaper has finished since
    stations, _, marks = deadlines
    stations["expire"].state(lambda s: s["status"] == "finished", after=marks["expire"], timeout=15)
    state = stations["held"].call("sync")["state"]
    assert state["status"] == "in_progress" and state["paused"] is True
