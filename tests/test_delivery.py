"""The hot path end to end over the real Socket.IO test client, on SQLite and PostgreSQL."""

import json

import pytest

from cat_server import create_app
from cat_server.exam import chain, clock
from cat_server.extensions import db, socketio
from cat_server.models import Attempt, AuditEvent, Presentation, Response
from tests.conftest import (
    PIN,
    last_event,
    login_candidate,
    login_staff,
    make_config,
    make_sitting,
    make_user,
    shift_deadline,
)

# Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest).
pytestmark = pytest.mark.usefixtures("quick_hashes")


def start(proctor_socket, sitting_id):
    ack = proctor_socket.emit(
        "start_sitting", {"sitting": sitting_id}, namespace="/proctor", callback=True
    )
    assert ack == {"ok": True}


def answer(sock, state, choice="A", **override):
    payload = {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": choice,
        **override,
    }
    return sock.emit("answer", payload, namespace="/exam", callback=True)


def current_state(sock):
    return sock.emit("sync", namespace="/exam", callback=True)["state"]


def test_wrong_pin_is_refused_and_creates_no_attempt(app, client, sitting_id):
    response = login_candidate(client, sitting_id, "20260001", pin="000000")
    assert response.status_code == 401
    assert "PIN salah" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Attempt).count() == 0


def test_unknown_sitting_is_a_404_page(client):
    response = client.get("/exam/999/")
    assert response.status_code == 404
    assert "tidak ditemukan" in response.get_data(as_text=True)


def test_the_waiting_room_lists_only_the_keys_that_work_in_the_exam(client, sitting_id):
    """One-by-one sections only: no arrows, R or S; Enter sends the answer."""
    login_candidate(client, sitting_id, "20260001")
    page = client.get(f"/exam/{sitting_id}/take").get_data(as_text=True)
    keys = page[page.index('data-testid="brief-keys"') :]
    keys = keys[: keys.index("</ul>")]
    assert "memilih jawaban" in keys and "<kbd>Enter</kbd> kirim jawaban" in keys
    assert "←" not in keys and "ragu-ragu" not in keys and "selesai bagian" not in keys


def test_exam_socket_refuses_without_login(app, client, sitting_id):
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert not sock.is_connected("/exam")


def test_candidate_waits_then_answers_every_item_and_sees_the_result(
    app, sitting_id, candidate, proctor_socket
):
    _, sock = candidate
    waiting = last_event(sock, "state", "/exam")
    assert waiting["status"] == "waiting"
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    assert state["status"] == "in_progress" and state["seq"] == 1
    assert 590 < state["remaining_s"] <= 600
    # keys A, B, C: answer the first two right and the last wrong
    for choice in ("A", "B", "E"):
        ack = answer(sock, state, choice)
        assert ack["ok"], ack
        state = ack["state"]
    assert state["status"] == "finished"
    assert state["finish_reason"] == "completed"
    assert state["result"]["total"] == 10
    assert state["result"]["sections"][0] == {
        "code": "TWK",
        "name": "Tes Wawasan Kebangsaan",
        "score": 10,
        "pass_mark": 5,
        "passed": True,
    }
    with app.app_context():
        assert db.session.query(Response).count() == 3
        assert db.session.query(AuditEvent).filter_by(action="attempt_finished").count() == 1


def test_nothing_sent_to_the_candidate_holds_a_key_or_parameter(
    app, sitting_id, candidate, proctor_socket
):
    _, sock = candidate
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    sent = [state]
    while state["status"] == "in_progress":
        ack = answer(sock, state, "A")
        sent.append(ack)
        state = ack["state"]
    sent += [e["args"][0] for e in sock.get_received("/exam")]
    items = [m.get("item") or m.get("state", {}).get("item") for m in sent]
    items = [i for i in items if i]
    assert len(items) >= 3
    for item in items:
        assert set(item) == {"id", "stem", "options"}
        assert all(set(option) == {"label", "text"} for option in item["options"])
    text = json.dumps(sent)
    for secret in ('"key"', '"a":', '"b":', '"c":', '"d":', '"option_scores"', "thresholds"):
        assert secret not in text


def test_a_repeated_seq_gets_the_stored_reply_and_is_stored_once(
    app, sitting_id, candidate, proctor_socket
):
    _, sock = candidate
    start(proctor_socket, sitting_id)
    first = last_event(sock, "state", "/exam")
    ack1 = answer(sock, first, "A")
    ack2 = answer(sock, first, "A")  # the browser lost the ack and sends again
    assert ack2["ok"] and ack2.get("repeat") is True
    assert ack2["state"]["seq"] == ack1["state"]["seq"] == 2
    assert ack2["state"]["item"] == ack1["state"]["item"]
    with app.app_context():
        assert db.session.query(Response).filter_by(seq=1).count() == 1
        attempt = db.session.query(Attempt).one()
        assert (attempt.n_answered, attempt.total_score) == (1, 5)


def test_a_wrong_seq_or_item_is_rejected_and_changes_nothing(
    app, sitting_id, candidate, proctor_socket
):
    _, sock = candidate
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    ack = answer(sock, state, "A", seq=2)
    assert ack["ok"] is False and ack["error"] == "wrong_seq" and ack["expected_seq"] == 1
    ack = answer(sock, state, "A", item=state["item"]["id"] + 1)
    assert ack["error"] == "wrong_seq"
    assert current_state(sock)["seq"] == 1
    with app.app_context():
        assert db.session.query(Response).count() == 0


def test_a_malformed_payload_gets_an_error_event_and_changes_nothing(
    app, sitting_id, candidate, proctor_socket
):
    _, sock = candidate
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    sock.get_received("/exam")
    for bad in (
        "A",
        None,
        [],
        {"attempt": state["attempt"]},
        {**_payload(state), "choice": "Z"},
        {**_payload(state), "seq": "1"},
        {**_payload(state), "seq": True},
        {**_payload(state), "attempt": 999},
    ):
        ack = sock.emit("answer", bad, namespace="/exam", callback=True)
        assert ack["ok"] is False and ack["error"] == "bad_payload", bad
    errors = [e for e in sock.get_received("/exam") if e["name"] == "exam_error"]
    assert len(errors) == 8
    with app.app_context():
        attempt = db.session.query(Attempt).one()
        assert (attempt.next_seq, attempt.n_answered, attempt.status) == (1, 0, "in_progress")
        assert db.session.query(Response).count() == 0


def _payload(state):
    return {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": "A",
    }


def test_an_answer_after_the_deadline_is_refused_and_the_attempt_ends(
    app, sitting_id, candidate, proctor_socket
):
    _, sock = candidate
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    shift_deadline(app, state["attempt"], -601)
    ack = answer(sock, state, "A")
    assert ack["ok"] is False and ack["error"] == "time_up"
    assert ack["state"]["status"] == "finished"
    assert ack["state"]["finish_reason"] == "time_up"
    with app.app_context():
        assert db.session.query(Response).count() == 0


def test_the_server_finishes_an_expired_attempt_without_the_browser(
    app, sitting_id, candidate, proctor_socket
):
    client, sock = candidate
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    answer(sock, state, "A")
    sock.disconnect(namespace="/exam")
    shift_deadline(app, state["attempt"], -601)
    with app.app_context():
        assert clock.finish_expired() == [state["attempt"]]
        attempt = db.session.get(Attempt, state["attempt"])
        assert attempt.status == "finished" and attempt.finish_reason == "time_up"
        assert attempt.n_answered == 1
        assert clock.finish_expired() == []  # nothing finished twice


def test_resume_after_reconnect_continues_at_the_same_item(
    app, sitting_id, candidate, proctor_socket
):
    client, sock = candidate
    start(proctor_socket, sitting_id)
    state = answer(sock, last_event(sock, "state", "/exam"), "A")["state"]
    sock.disconnect(namespace="/exam")
    again = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    resumed = last_event(again, "state", "/exam")
    assert resumed["seq"] == state["seq"] == 2
    assert resumed["item"] == state["item"] and resumed["answered"] == 1
    again.disconnect(namespace="/exam")


def test_a_late_login_starts_at_once_with_the_full_time(app, sitting_id, proctor_socket):
    start(proctor_socket, sitting_id)
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260002").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = last_event(sock, "state", "/exam")
    assert state["status"] == "in_progress" and state["remaining_s"] > 590


def test_responses_form_a_hash_chain(app, sitting_id, candidate, proctor_socket):
    _, sock = candidate
    start(proctor_socket, sitting_id)
    state = last_event(sock, "state", "/exam")
    while state["status"] == "in_progress":
        state = answer(sock, state, "C")["state"]
    with app.app_context():
        rows = db.session.query(Response).order_by(Response.n).all()
        prev = chain.genesis_of(db.session.query(Attempt).one())  # names the candidate
        for row in rows:
            assert row.prev_hash == prev
            fields = (row.attempt_id, row.seq, row.item_id, row.choice, row.score)
            assert row.hash == chain.chain_hash(
                prev, *fields, row.answered_at, key=chain.chain_key()
            )  # keyed: an HMAC under the chain key, not a plain SHA-256
            prev = row.hash
        assert db.session.query(Attempt).one().chain_head == prev
        assert db.session.query(Presentation).count() == 3


def test_login_is_needed_for_the_proctor_socket(app, client, sitting_id):
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert not sock.is_connected("/proctor")
    assert PIN  # candidates cannot open it either
    login_candidate(client, sitting_id, "20260001")
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert not sock.is_connected("/proctor")


def test_csrf_is_enforced_on_forms(db_url, sitting_id, app):
    from cat_server import create_app
    from tests.conftest import make_config

    strict = create_app(make_config(db_url, WTF_CSRF_ENABLED=True))
    response = login_staff(strict.test_client())
    assert response.status_code == 400
    del app


def test_a_busy_database_refuses_the_exam_socket_with_retry_and_acks_retry(tmp_path, caplog):
    """SQLite's one pooled connection held elsewhere (300 seats reconnecting at once).

    The connect is refused with ``retry`` (the page connects again by itself),
    never an exception: that left the client waiting forever for an answer to
    its connect (found in the 300-seat kill -9 run). A sync meanwhile gets the
    ``retry`` ack. Once the connection is free the same socket connects.
    """
    app = create_app(
        make_config(
            f"sqlite:///{tmp_path / 'busy.db'}", SQLALCHEMY_ENGINE_OPTIONS={"pool_timeout": 0.2}
        )
    )
    with app.app_context():
        db.create_all()
        sitting_id = make_sitting()
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert sock.is_connected("/exam")
    with app.app_context():
        held = db.engine.connect()  # another transaction keeps the only connection
        held.exec_driver_sql("SELECT 1")
    try:
        assert sock.emit("sync", namespace="/exam", callback=True)["error"] == "retry"
        refused = socketio.test_client(app, namespace="/exam", flask_test_client=client)
        assert not refused.is_connected("/exam")
        assert "database unavailable in on_connect" in caplog.text
    finally:
        held.close()
    sock.disconnect(namespace="/exam")
    again = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert again.is_connected("/exam")
    assert last_event(again, "state", "/exam")["status"] == "waiting"


def test_a_busy_database_refuses_the_proctor_socket_with_retry(tmp_path, caplog):
    """The proctor console's connect, like the workstation's: ``retry``, never an exception."""
    app = create_app(
        make_config(
            f"sqlite:///{tmp_path / 'busy.db'}", SQLALCHEMY_ENGINE_OPTIONS={"pool_timeout": 0.2}
        )
    )
    with app.app_context():
        db.create_all()
        make_user()
    client = app.test_client()
    assert login_staff(client).status_code == 302
    with app.app_context():
        held = db.engine.connect()  # another transaction keeps the only connection
        held.exec_driver_sql("SELECT 1")
    try:
        refused = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
        assert not refused.is_connected("/proctor")
        assert "database unavailable in proctor on_connect" in caplog.text
    finally:
        held.close()
    again = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert again.is_connected("/proctor")
    again.disconnect(namespace="/proctor")


def test_a_repeat_naming_another_item_is_wrong_seq_not_a_repeat(
    app, sitting_id, candidate, proctor_socket
):
    """Issue 17: re-sending an answered seq with another item's id is not the same answer."""
    _, sock = candidate
    start(proctor_socket, sitting_id)
    first = last_event(sock, "state", "/exam")
    ack1 = answer(sock, first, "A")
    ack = answer(sock, first, "A", item=ack1["state"]["item"]["id"])
    assert ack["ok"] is False and ack["error"] == "wrong_seq" and ack["expected_seq"] == 2
    with app.app_context():
        assert db.session.query(Response).count() == 1
