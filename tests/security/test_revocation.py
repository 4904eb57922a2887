"""Server-side revocation of sessions (issue 16), SQLite + PostgreSQL.

- a copy of a candidate's cookie stops working at once, for the exam page, a new
  /exam socket and an answer on a socket the server's disconnect has not reached
  yet (another process, say), after the candidate's logout, a PIN reset, a seat
  move and the proctor's "end this workstation's session"; the attempt's open
  page is told why and disconnected, and the login page says so;
- after a seat move the old workstation cannot take the attempt back: the new
  one logs in and answers, the old one is refused;
- a copy of a staff cookie stops working after logout, and after deactivation
  (also once the account is active again) or a role change;
- idle time-outs are kept by the server: a staff cookie that says (or does not
  say) it was active is refused once the user has been idle; an abandoned
  candidate session ends, an open exam page never does.

Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from cat_server.extensions import db, socketio
from cat_server.models import Attempt, AuditEvent, Candidate, Response, Seat, User, utcnow
from cat_server.proctor import report
from tests.conftest import PIN, login_candidate, login_staff, make_sitting, make_user
from tests.test_admin_users import ADMIN, admin_client

pytestmark = pytest.mark.usefixtures("quick_hashes")

PROCTOR = "/proctor"
EXAM = "/exam"
REG = "20260001"


def copy_of(app, client):
    """Another browser holding the same session cookie."""
    twin = app.test_client()
    twin.set_cookie("session", client.get_cookie("session").value)
    return twin


def connect_exam(app, client, device):
    return socketio.test_client(
        app, namespace=EXAM, flask_test_client=client, auth={"device": device}
    )


def received(sock, name, namespace=EXAM):
    """Events that reached the socket, connected or not (the test client keeps them)."""
    return [e["args"][0] for e in sock.queue if e["name"] == name and e["namespace"] == namespace]


def answer(sock, state, choice="A"):
    payload = {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": choice,
    }
    return sock.emit("answer", payload, namespace=EXAM, callback=True)


class Room:
    """A started sitting; PC-01's candidate logged in at workstation "pc-01", answering."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            self.sitting = make_sitting(n_candidates=2, n_items=5, proctor=make_user())
            db.session.add(Seat(sitting_id=self.sitting, label="PC-99", position=99))
            db.session.commit()
            self.candidate = db.session.execute(
                db.select(Candidate.id).where(Candidate.registration_no == REG)
            ).scalar_one()
        self.staff = app.test_client()
        assert login_staff(self.staff).status_code == 302
        self.psock = socketio.test_client(app, namespace=PROCTOR, flask_test_client=self.staff)
        assert self.act("watch")["ok"]
        self.client = app.test_client()
        assert login_candidate(self.client, self.sitting, REG).status_code == 302
        self.sock = connect_exam(app, self.client, "pc-01")
        assert self.sock.is_connected(EXAM)
        assert self.act("start_sitting")["ok"]
        self.state = self.sock.emit("sync", namespace=EXAM, callback=True)["state"]
        self.take = f"/exam/{self.sitting}/take"

    def act(self, event, **payload):
        return self.psock.emit(
            event, {"sitting": self.sitting, **payload}, namespace=PROCTOR, callback=True
        )

    def seat_act(self, event, **payload):
        ack = self.act(event, candidate=self.candidate, reason="uji pencabutan sesi", **payload)
        assert isinstance(ack, dict) and ack["ok"], f"{event}: {ack!r}"
        return ack

    def responses(self) -> int:
        with self.app.app_context():
            return db.session.execute(db.select(db.func.count(Response.id))).scalar_one()


@pytest.fixture
def room(app):
    r = Room(app)
    yield r
    for sock, ns in ((r.psock, PROCTOR), (r.sock, EXAM)):
        if sock.is_connected(ns):
            sock.disconnect(namespace=ns)


def logout(r):
    assert r.client.post(f"/exam/{r.sitting}/logout").status_code == 302


TRIGGERS = {
    "logout": logout,
    "pin_reset": lambda r: r.seat_act("reset_pin"),
    "seat_move": lambda r: r.seat_act("move_seat", seat="PC-99"),
    "end_session": lambda r: r.seat_act("end_session"),
}


def refused_at_login_page(response, sitting) -> bool:
    return response.status_code == 302 and response.headers["Location"].endswith(
        f"/exam/{sitting}/"
    )


# --- candidates -----------------------------------------------------------------


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_copied_candidate_cookie_stops_working_at_once(room, trigger, monkeypatch):
    r = room
    copy = copy_of(r.app, r.client)
    assert copy.get(r.take).status_code == 200  # the copy works as well as the original
    with monkeypatch.context() as m:
        # the workstation's socket is on a process the disconnect has not reached yet
        m.setattr(socketio.server, "disconnect", lambda *args, **kwargs: None)
        TRIGGERS[trigger](r)
    assert refused_at_login_page(copy.get(r.take), r.sitting)
    later = connect_exam(r.app, copy, "pc-01")
    assert not later.is_connected(EXAM)
    refused = answer(r.sock, r.state)
    assert refused["ok"] is False and refused["error"] == "session_ended", refused
    assert r.responses() == 0


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_revoking_tells_the_open_exam_page_why_and_disconnects_it(room, trigger):
    r = room
    TRIGGERS[trigger](r)
    assert not r.sock.is_connected(EXAM)
    (ended,) = received(r.sock, "session_ended")
    assert ended["error"] == "session_ended" and ended["message"] and ended["message_en"]
    if trigger != "logout":  # the page goes to the login page, which says why
        page = r.client.get(r.take, follow_redirects=True).get_data(as_text=True)
        assert "Login Anda telah diakhiri" in page and "Your login was ended" in page
        assert r.client.get(r.take).status_code == 302  # and the cookie is gone for good


def test_after_a_seat_move_the_old_workstation_cannot_take_the_attempt_back(room):
    r = room
    assert answer(r.sock, r.state)["ok"]
    r.seat_act("move_seat", seat="PC-99")
    # the old page's "try again" button, or a reload: refused
    retry = connect_exam(r.app, r.client, "pc-01")
    assert not retry.is_connected(EXAM)
    assert refused_at_login_page(r.client.get(r.take), r.sitting)
    # the candidate logs in at the new workstation and carries on
    new = r.app.test_client()
    assert login_candidate(new, r.sitting, REG).status_code == 302
    sock = connect_exam(r.app, new, "pc-99")
    assert sock.is_connected(EXAM), "the candidate was locked out of the new workstation"
    state = sock.emit("sync", namespace=EXAM, callback=True)["state"]
    assert state["seq"] == 2 and answer(sock, state)["ok"]
    # the old workstation still cannot come back, and the new one is not disturbed
    assert not connect_exam(r.app, r.client, "pc-01").is_connected(EXAM)
    assert sock.is_connected(EXAM)
    sock.disconnect(namespace=EXAM)


def test_resetting_a_sittings_pins_leaves_a_running_candidate_and_the_seat_reset_ends_it(room):
    """The sitting-wide "new PINs" skips candidates who have begun (issue 18: it would log a
    whole room out mid-exam); a leaked slip of a running candidate is the proctor's per-seat
    "Reset PIN", which ends every copy of that login at once."""
    r = room
    with r.app.app_context():
        make_user("kepala", role="admin")
    admin = r.app.test_client()
    assert login_staff(admin, "kepala").status_code == 302
    copy = copy_of(r.app, r.client)
    done = admin.post(f"/admin/sittings/{r.sitting}/pins", data={"reason": "slip PIN bocor"})
    assert done.status_code == 200 and "PIN tetap" in done.get_data(as_text=True)
    assert r.sock.is_connected(EXAM)
    r.seat_act("reset_pin")
    assert not r.sock.is_connected(EXAM)
    assert refused_at_login_page(copy.get(r.take), r.sitting)
    assert not connect_exam(r.app, copy, "pc-01").is_connected(EXAM)


def test_ending_a_workstations_session_is_audited_with_its_reason_and_the_exam_goes_on(room):
    r = room
    r.seat_act("end_session")
    with r.app.app_context():
        (row,) = db.session.execute(
            db.select(AuditEvent).where(AuditEvent.action == "session_ended")
        ).scalars()
        assert row.reason == "uji pencabutan sesi" and row.actor.startswith("user:")
        attempt = db.session.get(Attempt, r.state["attempt"])
        assert attempt.status == "in_progress" and attempt.paused_at is None
        assert attempt.connected_sid is None
        rows = [row for row in report.report_rows(r.sitting) if row["what"] == "end login"]
        assert [(row["seat"], row["reason"]) for row in rows] == [("PC-01", "uji pencabutan sesi")]
    again = r.app.test_client()
    assert login_candidate(again, r.sitting, REG, PIN).status_code == 302
    sock = connect_exam(r.app, again, "pc-01")
    assert answer(sock, sock.emit("sync", namespace=EXAM, callback=True)["state"])["ok"]
    sock.disconnect(namespace=EXAM)


def test_an_abandoned_candidate_session_times_out_on_the_server(room):
    r = room
    r.app.config["CANDIDATE_IDLE_TIMEOUT"] = 1
    copy = copy_of(r.app, r.client)
    r.sock.disconnect(namespace=EXAM)  # the page was closed
    time.sleep(1.3)
    page = r.client.get(r.take, follow_redirects=True).get_data(as_text=True)
    assert "tidak aktif" in page and "inactivity" in page
    assert not connect_exam(r.app, copy, "pc-01").is_connected(EXAM)
    # logging in again works; the copy of the old cookie does not come back with it
    assert login_candidate(r.client, r.sitting, REG).status_code == 302
    assert r.client.get(r.take).status_code == 200
    assert refused_at_login_page(copy.get(r.take), r.sitting)


def test_an_open_exam_page_never_times_out_while_the_candidate_answers(room):
    r = room
    r.app.config["CANDIDATE_IDLE_TIMEOUT"] = 1
    time.sleep(1.3)  # a long think over one item, the page open
    assert answer(r.sock, r.state)["ok"]
    assert r.client.get(r.take).status_code == 200  # a reload is fine too
    again = connect_exam(r.app, r.client, "pc-01")
    assert again.is_connected(EXAM)
    again.disconnect(namespace=EXAM)


# --- staff ----------------------------------------------------------------------


def console(app, client):
    sock = socketio.test_client(app, namespace=PROCTOR, flask_test_client=client)
    assert sock.is_connected(PROCTOR)
    return sock


def test_a_copied_staff_cookie_stops_working_after_logout(app):
    with app.app_context():
        make_sitting(proctor=make_user())
    desk = app.test_client()
    assert login_staff(desk).status_code == 302
    copy = copy_of(app, desk)
    assert copy.get("/proctor/").status_code == 200
    open_console = console(app, copy)
    assert desk.post("/logout").status_code == 302
    gone = copy.get("/proctor/")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert not socketio.test_client(app, namespace=PROCTOR, flask_test_client=copy).is_connected(
        PROCTOR
    )
    assert not open_console.is_connected(PROCTOR)
    assert login_staff(app.test_client()).status_code == 302  # logging in again works


ACCOUNT_CHANGES = {
    "deactivated_then_reactivated": [
        ("active", {"active": "0", "reason": "pindah tugas"}),
        ("active", {"active": "1", "reason": "kembali"}),
    ],
    "role_changed": [("role", {"role": "admin", "reason": "koordinator baru"})],
}


@pytest.mark.parametrize("change", ACCOUNT_CHANGES)
def test_a_copied_staff_cookie_stays_useless_after_an_account_change(app, change):
    admin = admin_client(app)
    desk = app.test_client()
    assert login_staff(desk).status_code == 302
    copy = copy_of(app, desk)
    assert copy.get("/proctor/sittings/1").status_code == 200
    with app.app_context():
        pid = db.session.execute(db.select(User.id).where(User.username == "pengawas")).scalar_one()
    for what, data in ACCOUNT_CHANGES[change]:
        assert admin.post(f"/admin/users/{pid}/{what}", data=data).status_code == 302
    for client in (copy, desk):
        gone = client.get("/proctor/sittings/1")
        assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert not socketio.test_client(app, namespace=PROCTOR, flask_test_client=copy).is_connected(
        PROCTOR
    )
    assert login_staff(app.test_client()).status_code == 302  # a new login works


@pytest.mark.parametrize("stamped", [False, True], ids=["cookie_without_stamp", "cookie_stamped"])
def test_the_admin_idle_timeout_is_the_servers_not_the_cookies(app, stamped):
    admin = admin_client(app)
    copy = copy_of(app, admin)  # taken right after the login
    app.config["ADMIN_IDLE_TIMEOUT"] = 1
    assert admin.get("/admin/").status_code == 200
    time.sleep(1.3)  # nobody did anything since
    if stamped:  # the replayed cookie says its holder was active just now
        with copy.session_transaction() as session:
            session["admin_seen"] = time.time()
    replay = copy.get("/admin/users")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    timed_out = admin.get("/admin/")
    assert timed_out.status_code == 302 and "/login" in timed_out.headers["Location"]
    # the admin logs in again; the old cookie stays useless
    assert login_staff(admin, *ADMIN).status_code == 302
    assert admin.get("/admin/").status_code == 200
    assert copy.get("/admin/").status_code == 302


def test_after_a_restart_the_pages_reconnect_whatever_the_idle_limit(room):
    """A crash leaves no disconnect behind: start-up counts the open pages as seen now."""
    from cat_server.exam import presence

    r = room
    r.app.config["CANDIDATE_IDLE_TIMEOUT"] = 1
    with r.app.app_context():
        attempt = db.session.get(Attempt, r.state["attempt"])
        attempt.last_seen_at = attempt.last_seen_at - timedelta(hours=2)  # connected long ago
        db.session.commit()
        presence.clear_connections()  # the only process starts again
    again = connect_exam(r.app, r.client, "pc-01")
    assert again.is_connected(EXAM)
    again.disconnect(namespace=EXAM)


def staff_seen_long_ago(app, username="pengawas"):
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.username == username)).scalar_one()
        user.last_seen_at = utcnow() - timedelta(hours=2)
        db.session.commit()


def test_an_open_proctor_console_keeps_its_staff_session_alive(app):
    from cat_server.proctor import sessions

    with app.app_context():
        make_sitting(proctor=make_user())
    desk = app.test_client()
    assert login_staff(desk).status_code == 302
    watching = console(app, desk)
    staff_seen_long_ago(app)  # the proctor only watched the console for two hours
    with app.app_context():
        assert sessions.note_open_consoles() == 1  # each process, every minute
    assert desk.get("/proctor/").status_code == 200
    assert watching.emit("watch", {"sitting": 1}, namespace=PROCTOR, callback=True)["ok"]
    watching.disconnect(namespace=PROCTOR)
    # console closed, nothing else for two hours: the session has ended
    staff_seen_long_ago(app)
    with app.app_context():
        assert sessions.note_open_consoles() == 0
    gone = desk.get("/proctor/")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert not console_refused_is_connected(app, desk)


def console_refused_is_connected(app, client) -> bool:
    sock = socketio.test_client(app, namespace=PROCTOR, flask_test_client=client)
    return sock.is_connected(PROCTOR)
