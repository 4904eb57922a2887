"""The proctor's live view: snapshots, coalesced updates, access."""

import time

import pytest

from cat_server.extensions import db, socketio
from cat_server.proctor import feed
from tests.conftest import last_event, login_candidate, login_staff, make_sitting, make_user

# Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest).
pytestmark = pytest.mark.usefixtures("quick_hashes")


def watch(sock, sitting_id):
    return sock.emit("watch", {"sitting": sitting_id}, namespace="/proctor", callback=True)


def test_watch_gives_every_seat_with_its_status(app, sitting_id, candidate, proctor_socket):
    snapshot = watch(proctor_socket, sitting_id)
    assert snapshot["ok"] and snapshot["full"]
    by_seat = {s["seat"]: s for s in snapshot["seats"]}
    assert by_seat["PC-01"]["status"] == "waiting"
    assert by_seat["PC-02"]["status"] == "absent"
    assert snapshot["counts"] == {
        "absent": 1,
        "waiting": 1,
        "answering": 0,
        "paused": 0,
        "disconnected": 0,
        "finished": 0,
        # what "Mulai ujian" would start and "Akhiri sesi" would end (issue 19)
        "to_start": 1,
        "to_start_offline": 0,
        "unfinished": 1,
    }
    _, sock = candidate
    sock.disconnect(namespace="/exam")  # logged in, page closed: "Mulai ujian" starts it too
    assert watch(proctor_socket, sitting_id)["counts"]["to_start_offline"] == 1


def test_changes_reach_the_proctor_coalesced_into_one_message(
    app, sitting_id, candidate, proctor_socket
):
    watch(proctor_socket, sitting_id)
    proctor_socket.emit(
        "start_sitting", {"sitting": sitting_id}, namespace="/proctor", callback=True
    )
    _, sock = candidate
    state = last_event(sock, "state", "/exam")
    for _ in range(3):
        state = sock.emit(
            "answer",
            {
                "attempt": state["attempt"],
                "seq": state["seq"],
                "item": state["item"]["id"],
                "choice": "A",
            },
            namespace="/exam",
            callback=True,
        )["state"]
    proctor_socket.get_received("/proctor")
    with app.app_context():
        assert feed.flush() == 1
        assert feed.flush() == 0  # nothing changed since
    messages = [e for e in proctor_socket.get_received("/proctor") if e["name"] == "seats"]
    assert len(messages) == 1
    seats = {s["seat"]: s for s in messages[0]["args"][0]["seats"]}
    assert seats["PC-01"]["status"] == "finished" and seats["PC-01"]["answered"] == 3


def test_a_screen_gets_at_most_one_message_per_feed_interval(
    app, sitting_id, candidate, proctor_socket
):
    app.config["FEED_INTERVAL"] = 0.25
    watch(proctor_socket, sitting_id)
    proctor_socket.emit(
        "start_sitting", {"sitting": sitting_id}, namespace="/proctor", callback=True
    )
    _, sock = candidate
    state = last_event(sock, "state", "/exam")

    def answer():
        return sock.emit(
            "answer",
            {
                "attempt": state["attempt"],
                "seq": state["seq"],
                "item": state["item"]["id"],
                "choice": "A",
            },
            namespace="/exam",
            callback=True,
        )["state"]

    with app.app_context():
        feed.flush()
        state = answer()
        time.sleep(0.3)
        assert feed.flush() == 1
        proctor_socket.get_received("/proctor")
        state = answer()
        assert feed.flush() == 0  # too soon after the last message: held, not lost
        time.sleep(0.3)
        assert feed.flush() == 1
    (message,) = [
        e["args"][0] for e in proctor_socket.get_received("/proctor") if e["name"] == "seats"
    ]
    assert message["seats"][0]["answered"] == 2


def test_a_disconnected_candidate_shows_as_disconnected(app, sitting_id, candidate, proctor_socket):
    _, sock = candidate
    sock.disconnect(namespace="/exam")
    seats = {s["seat"]: s for s in watch(proctor_socket, sitting_id)["seats"]}
    assert seats["PC-01"]["status"] == "disconnected"


def test_a_proctor_of_another_sitting_is_refused(app, sitting_id):
    with app.app_context():
        other = make_user("lain")
        other_sitting = make_sitting(name="Sesi B", proctor=other)
    client = app.test_client()
    login_staff(client, "lain")
    assert client.get(f"/proctor/sittings/{sitting_id}").status_code == 403
    assert client.get(f"/proctor/sittings/{other_sitting}").status_code == 200
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert watch(sock, sitting_id)["error"] == "forbidden"
    ack = sock.emit("start_sitting", {"sitting": sitting_id}, namespace="/proctor", callback=True)
    assert ack["error"] == "forbidden"
    with app.app_context():
        from cat_server.models import Sitting

        assert db.session.get(Sitting, sitting_id).status == "open"


def test_the_proctor_index_lists_only_own_sittings(app, sitting_id):
    with app.app_context():
        make_sitting(name="Sesi Orang Lain")
    client = app.test_client()
    login_staff(client)
    page = client.get("/proctor/").get_data(as_text=True)
    assert "Sesi Uji" in page and "Sesi Orang Lain" not in page


def test_candidate_cannot_open_proctor_pages(app, sitting_id):
    client = app.test_client()
    login_candidate(client, sitting_id, "20260001")
    assert client.get(f"/proctor/sittings/{sitting_id}").status_code in (302, 401, 403)


def test_every_proctor_screen_gets_one_message_per_flush_with_the_changes(
    app, sitting_id, candidate
):
    screens = []
    for _ in range(2):
        client = app.test_client()
        assert login_staff(client).status_code == 302
        sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
        assert watch(sock, sitting_id)["ok"]
        screens.append(sock)
    screens[0].emit("start_sitting", {"sitting": sitting_id}, namespace="/proctor", callback=True)
    with app.app_context():
        feed.flush()  # the start: every seat
    _, exam = candidate
    state = last_event(exam, "state", "/exam")
    for _ in range(2):
        state = exam.emit(
            "answer",
            {
                "attempt": state["attempt"],
                "seq": state["seq"],
                "item": state["item"]["id"],
                "choice": "B",
            },
            namespace="/exam",
            callback=True,
        )["state"]
    for sock in screens:
        sock.get_received("/proctor")
    with app.app_context():
        assert feed.flush() == 1
    for sock in screens:
        (message,) = [e["args"][0] for e in sock.get_received("/proctor") if e["name"] == "seats"]
        assert [(s["seat"], s["answered"]) for s in message["seats"]] == [("PC-01", 2)]
    screens[1].disconnect(namespace="/proctor")  # a closed screen is dropped, the other goes on
    exam.emit(
        "answer",
        {
            "attempt": state["attempt"],
            "seq": state["seq"],
            "item": state["item"]["id"],
            "choice": "C",
        },
        namespace="/exam",
        callback=True,
    )
    with app.app_context():
        assert feed.flush() == 1
    (message,) = [e["args"][0] for e in screens[0].get_received("/proctor") if e["name"] == "seats"]
    assert message["seats"][0]["status"] == "finished"
    screens[0].disconnect(namespace="/proctor")


def test_the_console_speaks_indonesian_first_and_english_on_request(app, sitting_id):
    client = app.test_client()
    assert login_staff(client).status_code == 302
    page = client.get(f"/proctor/sittings/{sitting_id}").get_data(as_text=True)
    assert "Buka check-in" in page and "Jeda sesi" in page and "Open check-in" not in page
    page = client.get(f"/proctor/sittings/{sitting_id}?lang=en").get_data(as_text=True)
    assert "Open check-in" in page and "Pause all" in page and "Jeda sesi" not in page
    assert '"answering": "Answering"' in page  # the live grid's words, for proctor.js
    # the list's column is plural, the seat panel's label one candidate (msgctxt)
    assert "<th>Candidates</th>" in page and "<dt>Candidate</dt>" in page
