"""Leak scan: nothing a candidate receives during full exams gives away an answer.

Two candidates take an SKD-like exam (TWK keyed and TKP option-scored, both
navigable, then an adaptive TIU section) through the real Socket.IO handlers.
Every message and acknowledgement they receive, and the HTML of every candidate
page, is recorded and checked against the database after each step:

- no item key, option score, item parameter (a, b, c, thresholds) or running
  score/ability appears, by field name or by value;
- an item appears only after the server presented it to that attempt (never an
  item of a later section, never an adaptive item not yet chosen, never the
  pool item the form left out, never another candidate's item).
"""

from __future__ import annotations

import json
import re

from cat_server.extensions import db, socketio
from cat_server.models import Presentation
from tests.conftest import PIN, login_candidate, login_staff, make_user
from tests.security.exams import (
    PUBLIC_ITEM_KEYS,
    PUBLIC_MEDIA_KINDS,
    PUBLIC_OPTION_KEYS,
    build_skd_adaptive,
)

# Field names that would carry a key, a score or a parameter.
SECRET_FIELDS = {
    "key",
    "keys",
    "option_scores",
    "scores",
    "score_a",
    "score_b",
    "score_c",
    "score_d",
    "score_e",
    "a",
    "b",
    "c",
    "d",
    "thresholds",
    "model",
    "enemy_group",
    "correct",
    "is_correct",
    "points",
    "exposure",
    "theta",
    "se",
    "total_score",
    "section_scores",
}
SCORE_FIELDS = {"score", "total", "passed"}  # allowed inside the final "result" only


def walk(value, path=()):
    """Yield (path, key, value) for every dict entry and (path, None, value) for scalars."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path, key, inner
            yield from walk(inner, path + (key,))
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner, path + ("[]",))
    else:
        yield path, None, value


class Recorder:
    """Everything one candidate received, checked against the DB after each step."""

    def __init__(self, app, built, registration_no):
        self.app, self.built, self.registration_no = app, built, registration_no
        self.tokens = built["tokens"]
        self.params = built["params"]
        self.attempt = None
        self.n_messages = 0
        self.n_pages = 0
        self.seen_items = set()

    def presented(self) -> set[int]:
        with self.app.app_context():
            if self.attempt is None:
                return set()
            return set(
                db.session.execute(
                    db.select(Presentation.item_id).where(Presentation.attempt_id == self.attempt)
                ).scalars()
            )

    def items_in(self, text: str) -> set[int]:
        return {item_id for item_id, token in self.tokens.items() if token in text}

    def check_message(self, name: str, payload) -> None:
        self.n_messages += 1
        text = json.dumps(payload)
        where = f"{self.registration_no} {name}: {text[:300]}"
        for path, key, value in walk(payload):
            if key is not None:
                assert key not in SECRET_FIELDS, f"field {key!r} at {path} in {where}"
                at_state = path in ((), ("state",))
                if key == "total" and at_state:
                    assert value == 3 + 2 + 4, where  # the item count, not a score
                elif key in SCORE_FIELDS:
                    assert "result" in path, (
                        f"score field {key!r} at {path} outside the result in {where}"
                    )
                if key == "item" and isinstance(value, dict):
                    self.check_item(value, where)
                if key == "status" and value == "in_progress" and "result" in payload:
                    raise AssertionError(f"a result before the end in {where}")
            elif isinstance(value, float):
                assert value not in self.params, f"item parameter {value} in {where}"
        leaked = self.items_in(text) - self.presented()
        assert not leaked, f"items {leaked} sent before they were presented: {where}"
        if (
            payload.get("state", payload).get("status") == "waiting"
            if isinstance(payload, dict)
            else False
        ):
            assert not self.items_in(text), f"items shown before the start: {where}"
        self.seen_items |= self.items_in(text)

    def check_item(self, item: dict, where: str) -> None:
        assert set(item) - {"media"} == PUBLIC_ITEM_KEYS, f"item fields {sorted(item)} in {where}"
        assert item.get("media", "image") in PUBLIC_MEDIA_KINDS, where
        assert "gambar" not in json.dumps(item), f"a media file name in {where}"
        for option in item["options"]:
            assert set(option) == PUBLIC_OPTION_KEYS, f"option fields {sorted(option)} in {where}"

    def check_page(self, name: str, html: str) -> None:
        self.n_pages += 1
        leaked = self.items_in(html) - self.presented()
        assert not leaked, f"page {name} of {self.registration_no} holds unpresented {leaked}"
        for value in self.params:
            assert not re.search(rf"(?<![\d.]){re.escape(repr(value))}(?!\d)", html), (
                f"parameter {value} on page {name}"
            )
        for word in ("option_scores", "thresholds", '"key"', "data-key", "data-score"):
            assert word not in html, f"{word} on page {name}"


class Candidate:
    """A logged-in candidate's browser: pages and the /exam socket, every byte recorded."""

    def __init__(self, app, built, registration_no, device):
        self.rec = Recorder(app, built, registration_no)
        self.sitting = built["sitting"]
        self.client = app.test_client()
        self.rec.check_page("login", self.client.get(f"/exam/{self.sitting}/").text)
        wrong = login_candidate(self.client, self.sitting, registration_no, pin="000000")
        assert wrong.status_code == 401
        self.rec.check_page("login-failed", wrong.text)
        assert login_candidate(self.client, self.sitting, registration_no, PIN).status_code == 302
        with self.client.session_transaction() as session:
            self.rec.attempt = session["attempt_id"]
        self.page("take")
        self.sock = socketio.test_client(
            app, namespace="/exam", flask_test_client=self.client, auth={"device": device}
        )
        assert self.sock.is_connected("/exam")
        self.state = None
        self.drain()

    def page(self, name):
        response = self.client.get(f"/exam/{self.sitting}/take")
        assert response.status_code == 200
        self.rec.check_page(name, response.text)

    def drain(self):
        for message in self.sock.get_received("/exam"):
            for arg in message["args"]:
                self.rec.check_message(message["name"], arg)
            if message["name"] == "state":
                self.state = message["args"][0]
        return self.state

    def emit(self, event, payload=None):
        ack = self.sock.emit(event, payload, namespace="/exam", callback=True)
        self.rec.check_message(f"ack:{event}", ack)
        self.drain()
        if ack.get("state"):
            merged = dict(ack["state"])
            if (
                "items" not in merged
                and self.state
                and "items" in self.state
                and (
                    merged.get("section", {}).get("index")
                    == self.state.get("section", {}).get("index")
                )
            ):
                merged["items"] = self.state["items"]  # acks are not full: keep the items
            self.state = merged
        return ack

    def answer(self, seq, item_id, choice):
        return self.emit(
            "answer", {"attempt": self.rec.attempt, "seq": seq, "item": item_id, "choice": choice}
        )


def take_exam(cand: Candidate, choices: str) -> None:
    """Go through all three sections, with changes, marks, syncs and rejected answers."""
    state = cand.state
    assert state["status"] == "in_progress" and state["section"]["code"] == "TWK"
    twk = {entry["seq"]: entry["item"]["id"] for entry in state["items"]}
    for n, (seq, item_id) in enumerate(sorted(twk.items())):
        assert cand.answer(seq, item_id, choices[n % len(choices)])["ok"]
    first = min(twk)
    assert cand.answer(first, twk[first], "E")["ok"]  # a change
    assert cand.emit("mark", {"attempt": cand.rec.attempt, "seq": first, "marked": True})["ok"]
    wrong = cand.answer(first, twk[first] + 1000, "A")  # an item not presented here
    assert wrong["ok"] is False
    assert cand.emit("sync")["ok"]
    cand.page("take-twk")

    ack = cand.emit("finish_section", {"attempt": cand.rec.attempt, "section": 1})
    state = ack["state"]
    assert state["section"]["code"] == "TKP"
    late = cand.answer(first, twk[first], "B")
    assert late["ok"] is False and late["error"] == "section_over"
    tkp = {entry["seq"]: entry["item"]["id"] for entry in state["items"]}
    for n, (seq, item_id) in enumerate(sorted(tkp.items())):
        assert cand.answer(seq, item_id, choices[(n + 1) % len(choices)])["ok"]
    cand.page("take-tkp")

    state = cand.emit("finish_section", {"attempt": cand.rec.attempt, "section": 2})["state"]
    assert state["section"]["mode"] == "adaptive"
    n = 0
    while state["status"] == "in_progress":
        assert "items" not in state
        if n == 1:
            assert cand.emit("sync")["ok"]
            cand.page("take-adaptive")
            ahead = cand.answer(state["seq"] + 1, state["item"]["id"], "A")  # not chosen yet
            assert ahead["ok"] is False
        ack = cand.answer(state["seq"], state["item"]["id"], choices[n % len(choices)])
        assert ack["ok"], ack
        state, n = ack["state"], n + 1
    assert n == 4 and state["status"] == "finished" and "result" in state
    assert cand.emit("sync")["state"]["status"] == "finished"
    cand.page("take-finished")


def test_full_exams_leak_no_key_score_parameter_or_unpresented_item(app):
    with app.app_context():
        built = build_skd_adaptive(n_candidates=2, proctor=make_user())
    staff = app.test_client()
    assert login_staff(staff).status_code == 302
    proctor = socketio.test_client(app, namespace="/proctor", flask_test_client=staff)

    first = Candidate(app, built, "S0001", "pc-1")
    second = Candidate(app, built, "S0002", "pc-2")
    assert first.state["status"] == second.state["status"] == "waiting"
    assert proctor.emit(
        "start_sitting", {"sitting": built["sitting"]}, namespace="/proctor", callback=True
    ) == {"ok": True}
    for cand in (first, second):
        cand.drain()
        cand.page("take-started")
    take_exam(first, "ABCDE")
    take_exam(second, "EDCBA")

    for cand in (first, second):
        rec = cand.rec
        assert rec.n_messages >= 20 and rec.n_pages == 8
        # the scan had something to find: every presented item was seen, no other
        assert rec.seen_items == rec.presented()
        assert len(rec.seen_items) == 3 + 2 + 4
    never = set(built["tokens"]) - first.rec.presented() - second.rec.presented()
    assert never  # pool items no one was given: their text reached nobody
