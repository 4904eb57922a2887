"""Staff accounts (issue 9, access and guessing), SQLite + PostgreSQL:

- deactivating a user, resetting their password, changing their role or taking
  them off a sitting disconnects their open /proctor sockets at once: no more
  ``seats`` broadcasts until they reconnect and pass the checks again;
- a failed staff login costs one argon2 verify whether or not the username
  exists (or is active), so timing does not tell which names exist;
- usernames ignore case: login, the uniqueness check on creation (with a clear
  message), the database index, and the per-account guessing limit;
- every reason-requiring admin form (and /proctor event) refuses an empty or
  blank reason and changes nothing, the PIN reset of a whole sitting included.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cat_server import security
from cat_server.extensions import db, socketio
from cat_server.models import AuditEvent, Candidate, Exam, User
from cat_server.proctor import feed
from tests.conftest import login_staff
from tests.test_admin_users import ADMIN, NEW_PASSWORD, admin_client, problems, staff, user_id

WRONG = "bukan-kata-sandinya"


@pytest.fixture
def admin(app):
    return admin_client(app)


def console(app, username="pengawas", password="rahasia-123", sitting=1):
    """A logged-in /proctor socket watching ``sitting``."""
    client = app.test_client()
    assert login_staff(client, username, password).status_code == 302
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert sock.emit("watch", {"sitting": sitting}, namespace="/proctor", callback=True)["ok"]
    sock.get_received("/proctor")
    return sock


def seats_messages(sock) -> list:
    return [e for e in sock.get_received("/proctor") if e["name"] == "seats"]


def audit_count(app) -> int:
    """Audit rows other than logins (each login is audited too)."""
    with app.app_context():
        return db.session.execute(
            db.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action != "login")
        ).scalar_one()


# --- 1. an account change ends the user's open sockets ------------------------

CHANGES = {
    "deactivated": lambda pid: (
        f"/admin/users/{pid}/active",
        {"active": "0", "reason": "pindah tugas"},
    ),
    "password_reset": lambda pid: (
        f"/admin/users/{pid}/password",
        {"password": NEW_PASSWORD, "reason": "kata sandi bocor"},
    ),
    "role_changed": lambda pid: (
        f"/admin/users/{pid}/role",
        {"role": "admin", "reason": "koordinator baru"},
    ),
    "off_the_sitting": lambda pid: ("/admin/sittings/1/proctors", {"reason": "ganti pengawas"}),
}


@pytest.mark.parametrize("change", CHANGES)
def test_an_account_change_disconnects_the_users_open_console_at_once(app, admin, change):
    proctor = console(app)
    other = console(app, *ADMIN)  # the admin's own console watches the same sitting
    with app.app_context():
        feed.seat_changed(1)
        assert feed.flush() == 1
    assert seats_messages(proctor) and seats_messages(other)  # both got seat updates so far

    url, data = CHANGES[change](user_id(app, "pengawas"))
    assert admin.post(url, data=data).status_code == 302

    assert not proctor.is_connected("/proctor")  # disconnected by the server, no event needed
    with app.app_context():
        feed.seat_changed(1)
        assert feed.flush() == 1
    # the test client records whatever still reaches its socket, connected or not
    assert not [e for e in proctor.queue if e["name"] == "seats"]
    assert seats_messages(other)
    assert other.is_connected("/proctor")
    other.disconnect(namespace="/proctor")


def test_only_the_changed_users_sockets_are_ended(app, admin):
    with app.app_context():
        staff("pengawas2")
    kept = console(app)
    client = app.test_client()
    assert login_staff(client, "pengawas2").status_code == 302
    ended = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert ended.is_connected("/proctor")
    pid = user_id(app, "pengawas2")
    assert (
        admin.post(f"/admin/users/{pid}/active", data={"active": "0", "reason": "cuti"}).status_code
        == 302
    )
    assert not ended.is_connected("/proctor")
    assert kept.is_connected("/proctor")
    # and the ended console cannot come back: the account is inactive
    again = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert not again.is_connected("/proctor")
    kept.disconnect(namespace="/proctor")


# --- 2. a failed login costs the same argon2 work, name or no name ----------------


def argon2_parameters(hash_: str) -> list[str]:
    """'$argon2id$v=19$m=65536,t=3,p=4$salt$digest' -> the algorithm, version and cost."""
    return hash_.split("$")[1:4]


@pytest.mark.parametrize("who", ["unknown", "inactive", "wrong_password", "right_password"])
def test_every_staff_login_runs_one_argon2_verify_of_the_same_cost(app, monkeypatch, who):
    with app.app_context():
        staff()
        staff("nonaktif").active = False
        db.session.commit()
        real_cost = argon2_parameters(
            db.session.execute(
                db.select(User.password_hash).where(User.username == "pengawas")
            ).scalar_one()
        )
    verified = []
    real_verify = security._verify
    monkeypatch.setattr(
        security,
        "_verify",
        lambda hash_, secret: verified.append(hash_) or real_verify(hash_, secret),
    )
    username, password, status = {
        "unknown": ("tidak-ada", WRONG, 401),
        "inactive": ("nonaktif", "rahasia-123", 401),  # even with its right password
        "wrong_password": ("pengawas", WRONG, 401),
        "right_password": ("pengawas", "rahasia-123", 302),
    }[who]
    assert login_staff(app.test_client(), username, password).status_code == status
    (hash_,) = verified  # exactly one verify, whatever the name
    assert argon2_parameters(hash_) == real_cost


# --- 3. usernames ignore case --------------------------------------------------


def test_staff_login_ignores_the_case_of_the_username(app):
    with app.app_context():
        staff()
    for typed in ("PENGAWAS", "Pengawas", "  pengawas "):
        client = app.test_client()
        assert login_staff(client, typed).status_code == 302, typed
        assert client.get("/proctor/").status_code == 200
    assert login_staff(app.test_client(), "PENGAWAS", WRONG).status_code == 401


def test_creating_a_user_that_differs_only_in_case_is_refused_clearly(app, admin):
    before = audit_count(app)
    refused = admin.post(
        "/admin/users",
        data={
            "username": "Pengawas",
            "name": "Pengawas Kedua",
            "role": "proctor",
            "password": "kata-sandi-panjang-1",
            "reason": "pengawas baru",
        },
    )
    assert refused.status_code == 422
    assert (
        "nama pengguna Pengawas sudah dipakai sebagai pengawas "
        "(huruf besar dan kecil tidak dibedakan)"
    ) in problems(refused)
    english = admin.post(
        "/admin/users?lang=en",
        data={
            "username": "PENGAWAS",
            "name": "X",
            "role": "proctor",
            "password": "kata-sandi-panjang-1",
        },
    )
    assert "username PENGAWAS is taken as pengawas (capitals do not count)" in problems(english)
    with app.app_context():
        assert db.session.execute(db.select(sa.func.count(User.id))).scalar_one() == 2
    assert audit_count(app) == before
    created = admin.post(
        "/admin/users",
        data={
            "username": "Budi.S",
            "name": "Budi",
            "role": "proctor",
            "password": "kata-sandi-panjang-1",
        },
    )
    assert created.status_code == 302
    with app.app_context():  # stored lower-case: one spelling in the log and the limits
        assert (
            db.session.execute(db.select(User.username).where(User.name == "Budi")).scalar_one()
            == "budi.s"
        )


def test_the_database_refuses_two_usernames_that_differ_only_in_case(app):
    with app.app_context():
        staff()
        db.session.add(User(username="PenGawas", name="X", role="proctor", password_hash="x"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_the_per_account_guessing_limit_counts_every_spelling_of_a_name(app):
    with app.app_context():
        staff()
    client = app.test_client()
    for typed in ("pengawas", "PENGAWAS", "Pengawas", "pengAwas", "PengawaS"):  # 5 failures
        assert login_staff(client, typed, WRONG).status_code == 401
    assert login_staff(client, "pEngawas").status_code == 429  # even the right password


# --- 4. a reason-requiring form refuses an empty reason and changes nothing -------


def pin_hashes(app) -> list[str]:
    with app.app_context():
        return (
            db.session.execute(db.select(Candidate.pin_hash).order_by(Candidate.id)).scalars().all()
        )


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_resetting_the_pins_of_a_sitting_needs_a_reason(app, admin, reason):
    before, n_audit = pin_hashes(app), audit_count(app)
    data = {} if reason is None else {"reason": reason}
    refused = admin.post("/admin/sittings/1/pins", data=data)
    assert refused.status_code == 422
    assert "isi alasannya" in problems(refused)
    assert 'data-testid="sitting-pins"' in refused.get_data(as_text=True)  # the form again
    assert pin_hashes(app) == before and audit_count(app) == n_audit
    done = admin.post("/admin/sittings/1/pins", data={"reason": "  slip hilang  "})
    assert done.status_code == 200 and 'class="slip-pin"' in done.get_data(as_text=True)
    assert pin_hashes(app) != before
    with app.app_context():
        (event,) = (
            db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "pins_reset"))
            .scalars()
            .all()
        )
        assert event.reason == "slip hilang"


def test_every_reason_requiring_admin_form_refuses_a_blank_reason(app, admin):
    """Role, password, (de)activation, sitting proctors, PINs, score board: all or nothing."""
    pid = user_id(app, "pengawas")
    with app.app_context():
        exam_id = db.session.execute(db.select(Exam.id)).scalars().first()
    forms = [
        (f"/admin/users/{pid}/role", {"role": "admin"}),
        (f"/admin/users/{pid}/password", {"password": NEW_PASSWORD}),
        (f"/admin/users/{pid}/active", {"active": "0"}),
        ("/admin/sittings/1/proctors", {}),
        ("/admin/sittings/1/pins", {}),
        (f"/admin/exams/{exam_id}/board", {"enabled": "1", "fields": ["name"]}),
    ]
    before, n_audit = pin_hashes(app), audit_count(app)
    for url, data in forms:
        for reason in ("", " \t "):
            response = admin.post(url, data={**data, "reason": reason})
            assert response.status_code in (302, 422), url
            if response.status_code == 422:
                assert "isi alasannya" in problems(response), url
    assert pin_hashes(app) == before and audit_count(app) == n_audit
    with app.app_context():
        user = db.session.get(User, pid)
        assert (user.role, user.active) == ("proctor", True)
        assert login_staff(app.test_client()).status_code == 302  # the old password still works
    # the same in the live console: an admin's configure_board with a blank reason
    sock = console(app, *ADMIN)
    ack = sock.emit(
        "configure_board",
        {"sitting": 1, "enabled": True, "reason": "  "},
        namespace="/proctor",
        callback=True,
    )
    assert ack["ok"] is False and ack["field"] == "reason"
    assert audit_count(app) == n_audit
    sock.disconnect(namespace="/proctor")
