"""Help requests and acknowledged flags (issue 19): the candidate calls a proctor, every console of
the sitting shows it until one proctor acknowledges it, with who and when in the audit log."""

import secrets
import threading
import time

import pytest
import requests
import socketio as sio_client

from cat_server.extensions import db
from cat_server.models import AuditEvent, audit
from cat_server.proctor import feed
from tests.conftest import PIN, login_staff, make_config, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login
from tests.test_live_server import Workstation
from tests.test_proctor_actions import act, attempt_of, room  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("quick_hashes")

NS = "/proctor"


def seat_of(r, reg):
    """The seat as a proctor's console has it after the next feed flush."""
    with r.app.app_context():
        feed.flush()
    messages = [m for m in r.psock.get_received(NS) if m["name"] == "seats"]
    snapshot = act(r, "watch")  # the full snapshot, as a console (re)opening gets it
    seats = {s["candidate"]: s for s in snapshot["seats"]}
    return seats[r.candidates[reg]], messages


def test_a_help_request_lights_the_seat_until_a_proctor_acknowledges_it(room):  # noqa: F811
    r = room
    cand = r.socks["20260001"]
    ack = cand.emit("call_proctor", namespace="/exam", callback=True)
    assert ack == {"ok": True, "new": True}
    seat, messages = seat_of(r, "20260001")
    assert "help" in seat["flags"] and seat["help_at"]
    # the coalesced feed carried the lit seat to the console without a reload
    assert any("help" in s["flags"] for m in messages for s in m["args"][0]["seats"]), (
        "the console was not told"
    )
    # a second press while waiting writes nothing
    assert cand.emit("call_proctor", namespace="/exam", callback=True) == {"ok": True, "new": False}
    with r.app.app_context():
        assert (
            db.session.execute(
                db.select(db.func.count()).where(AuditEvent.action == "help_requested")
            ).scalar_one()
            == 1
        )

    cand.get_received("/exam")  # what came before the answer
    done = act(r, "acknowledge", "20260001", flag="help")
    assert done["ok"] and done["by"] == "pengawas" and done["flag"] == "help"
    # the candidate's page is told, once (docs/protocol.md, "Calling a proctor")
    told = [m for m in cand.get_received("/exam") if m["name"] == "help_answered"]
    with r.app.app_context():
        assert [m["args"][0]["attempt"] for m in told] == [attempt_of(r, "20260001").id]
    seat, _ = seat_of(r, "20260001")
    assert "help" not in seat["flags"] and seat["help_at"] is None
    assert seat["acks"]["help"]["by"] == "pengawas"
    with r.app.app_context():
        event = db.session.execute(
            db.select(AuditEvent).where(AuditEvent.action == "help_acknowledged")
        ).scalar_one()
        assert event.actor == f"user:{r.proctor_id}"
        assert event.attempt_id == attempt_of(r, "20260001").id
    assert act(r, "acknowledge", "20260001", flag="help")["ok"]  # nothing waiting: not told
    assert not [m for m in cand.get_received("/exam") if m["name"] == "help_answered"]
    # a new press after the answer lights it again
    assert cand.emit("call_proctor", namespace="/exam", callback=True)["new"] is True
    seat, _ = seat_of(r, "20260001")
    assert "help" in seat["flags"]


def test_an_acknowledged_flag_stays_quiet_until_there_is_more_to_see(room):  # noqa: F811
    r = room
    cand = r.socks["20260002"]
    assert cand.emit("focus_lost", namespace="/exam", callback=True)["ok"]
    seat, _ = seat_of(r, "20260002")
    assert "focus_lost" in seat["flags"] and seat["acks"] == {}
    done = act(r, "acknowledge", "20260002", flag="focus_lost", note="Peserta menutup notifikasi")
    assert done["ok"]
    seat, _ = seat_of(r, "20260002")
    assert "focus_lost" in seat["flags"]  # still on record on the tile
    assert seat["acks"]["focus_lost"]["by"] == "pengawas"  # but looked at: not counted
    with r.app.app_context():
        event = db.session.execute(
            db.select(AuditEvent).where(AuditEvent.action == "flag_acknowledged")
        ).scalar_one()
        assert event.reason == "Peserta menutup notifikasi"
        assert event.data["flag"] == "focus_lost" and event.data["by"] == "pengawas"
    assert cand.emit("focus_lost", namespace="/exam", callback=True)["n"] == 2
    seat, _ = seat_of(r, "20260002")
    assert "focus_lost" not in seat["acks"]  # a new switch: to be looked at again

    # unknown flags, seats without an attempt and foreign sittings are refused, nothing written
    assert act(r, "acknowledge", "20260002", flag="bogus")["field"] == "flag"
    assert act(r, "acknowledge", "20260003", flag="idle")["error"] == "not_found"


def test_a_finished_seat_drops_the_live_only_flags(room):  # noqa: F811
    r = room
    cand = r.socks["20260001"]
    assert cand.emit("call_proctor", namespace="/exam", callback=True)["new"]
    assert cand.emit("focus_lost", namespace="/exam", callback=True)["ok"]
    assert act(r, "end_attempt", "20260001", reason="Peserta sakit")["ok"]
    seat, _ = seat_of(r, "20260001")
    assert seat["status"] == "finished"
    assert seat["flags"] == ["focus_lost"]  # the record stays; the help call is over


@pytest.mark.slow
def test_a_help_request_on_one_process_lights_the_console_on_another(pg_url, redis_url, tmp_path):
    from cat_server import create_app

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = make_sitting(n_items=3, n_candidates=2, proctor=make_user())
        make_user("pengawas2")
        from cat_server.models import Sitting, User

        sitting = db.session.get(Sitting, sitting_id)
        sitting.proctors.append(
            db.session.execute(db.select(User).where(User.username == "pengawas2")).scalar_one()
        )
        db.session.commit()
    channel = f"cat-test-{secrets.token_hex(4)}"
    a = LiveServer(pg_url, tmp_path / "a.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    b = LiveServer(pg_url, tmp_path / "b.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    a.start(), b.start()
    consoles = []
    try:
        candidate = requests.Session()
        url = f"{a.url}/exam/{sitting_id}/"
        assert (
            http_login(candidate, url, {"registration_no": "20260001", "pin": PIN}).status_code
            == 302
        )
        station = Workstation(a.url, cookie_header(candidate))
        station.wait_state(lambda s: s["status"] == "waiting")
        for server, user in ((a, "pengawas"), (b, "pengawas2")):  # one console on each process
            staff = requests.Session()
            http_login(staff, f"{server.url}/login", {"username": user, "password": "rahasia-123"})
            seen, got = [], threading.Event()
            client = sio_client.Client(reconnection=False)
            client.on(
                "seats",
                lambda m, seen=seen, got=got: (seen.extend(m["seats"]), got.set()),
                namespace=NS,
            )
            client.connect(
                server.url,
                namespaces=[NS],
                headers={"Cookie": cookie_header(staff)},
                transports=["websocket"],
            )
            assert client.call("watch", {"sitting": sitting_id}, namespace=NS)["ok"]
            consoles.append((client, seen, got))

        assert station.sio.call("call_proctor", namespace="/exam")["new"] is True

        def wait_for(console, lit):
            client, seen, got = console
            deadline = time.monotonic() + 5
            while not any(s["seat"] == "PC-01" and ("help" in s["flags"]) == lit for s in seen):
                assert time.monotonic() < deadline, f"help={lit} never reached the console: {seen}"
                got.wait(0.2)
                got.clear()
            seen.clear()

        for console in consoles:
            wait_for(console, True)
        # acknowledged on process B: the console on A goes quiet too
        client_b = consoles[1][0]
        seat = next(
            s
            for s in client_b.call("watch", {"sitting": sitting_id}, namespace=NS)["seats"]
            if s["seat"] == "PC-01"
        )
        ack = client_b.call(
            "acknowledge",
            {"sitting": sitting_id, "candidate": seat["candidate"], "flag": "help"},
            namespace=NS,
        )
        assert ack["ok"] and ack["by"] == "pengawas2"
        wait_for(consoles[0], False)
        station.sio.disconnect()
    finally:
        for client, _, _ in consoles:
            client.disconnect()
        a.stop()
        b.stop()


def test_a_finished_candidate_is_not_promised_a_proctor(room):  # noqa: F811
    """The outsider walk: on the end screen "Pengawas dipanggil" showed, and no console lit up
    (a finished seat drops its help light). Now the call is refused and the page hides the button."""
    r = room
    cand = r.socks["20260001"]
    assert act(r, "end_attempt", "20260001", reason="Selesai lebih awal") == {"ok": True}
    ack = cand.emit("call_proctor", namespace="/exam", callback=True)
    assert ack["ok"] is False and ack["error"] == "not_in_progress"
    with r.app.app_context():
        assert not db.session.execute(
            db.select(AuditEvent).where(AuditEvent.action == "help_requested")
        ).first()


def reconnect(sock):
    """The page reloads (or its socket is cut and comes back): the `state` of the new connect."""
    if sock.is_connected("/exam"):
        sock.get_received("/exam")
        sock.disconnect(namespace="/exam")
    sock.connect(namespace="/exam")
    received = sock.get_received("/exam")
    (state,) = [m["args"][0] for m in received if m["name"] == "state"]
    return state, [m["name"] for m in received]


def help_rows(r):
    """The help calls' rows of the sitting's report, as the CSV has them."""
    client = r.app.test_client()
    login_staff(client)
    csv = client.get(f"/proctor/sittings/{r.sitting}/report.csv").get_data(as_text=True)
    return [line for line in csv.splitlines() if ",help call," in line]


def audit_times(r, action):
    with r.app.app_context():
        return [
            at.isoformat()
            for at in db.session.execute(
                db.select(AuditEvent.at).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        ]


def test_a_page_away_when_its_call_is_answered_learns_it_when_it_connects_again(room):  # noqa: F811
    """Issue 19 leftovers, defects 1 and 2: a page reloaded while its call waits still knows it
    waits; a second press from it is the same call; an answer that came while the page was away
    reaches it with the next connect's `state`; the report has one call, answered."""
    r = room
    cand = r.socks["20260001"]
    assert cand.emit("call_proctor", namespace="/exam", callback=True)["new"] is True
    (called,) = audit_times(r, "help_requested")

    state, _ = reconnect(cand)  # reloaded while the call waits
    assert state["help"] == {"called_at": called, "answered_at": None}
    # the reloaded page's button is back; a press is the call already waiting, not a second one
    assert cand.emit("call_proctor", namespace="/exam", callback=True) == {"ok": True, "new": False}

    cand.disconnect(namespace="/exam")  # away (reloading, or the network) ...
    assert act(r, "acknowledge", "20260001", flag="help")["ok"]  # ... when the proctor comes
    state, names = reconnect(cand)
    assert "help_answered" not in names  # nothing was sent to a page that was not there ...
    (answered,) = audit_times(r, "help_acknowledged")
    assert state["help"] == {"called_at": called, "answered_at": answered}  # ... the state says it
    sync = cand.emit("sync", namespace="/exam", callback=True)
    assert sync["state"]["help"] == {"called_at": called, "answered_at": answered}

    (row,) = help_rows(r)  # one call, answered: not a second row "not answered yet"
    assert "answered_by=pengawas" in row, row

    # a new call after the answer is a new call, waiting again
    assert cand.emit("call_proctor", namespace="/exam", callback=True)["new"] is True
    state, _ = reconnect(cand)
    assert state["help"]["answered_at"] is None
    assert state["help"]["called_at"] == audit_times(r, "help_requested")[-1] > called

    # the other seat never called; a finished seat's page is promised no proctor
    assert reconnect(r.socks["20260002"])[0]["help"] is None
    assert act(r, "end_attempt", "20260001", reason="Selesai")["ok"]
    assert reconnect(cand)[0]["help"] is None


def test_one_answer_answers_every_open_call_of_the_seat_in_the_report(room):  # noqa: F811
    """However the log came to hold two unanswered calls of a seat (two presses racing on
    two server processes), the proctor went to the seat once: the report answers both,
    and the seat's page is told its call was answered."""
    r = room
    cand = r.socks["20260001"]
    assert cand.emit("call_proctor", namespace="/exam", callback=True)["new"] is True
    with r.app.app_context():  # the second press of the race, past the "already waiting" check
        attempt = attempt_of(r, "20260001")
        audit(
            f"candidate:{attempt.candidate_id}",
            "help_requested",
            sitting_id=attempt.sitting_id,
            attempt_id=attempt.id,
        )
        db.session.commit()
    assert act(r, "acknowledge", "20260001", flag="help")["ok"]
    rows = help_rows(r)
    assert len(rows) == 2 and all("answered_by=pengawas" in row for row in rows), rows
    state, _ = reconnect(cand)
    assert state["help"]["answered_at"] is not None
