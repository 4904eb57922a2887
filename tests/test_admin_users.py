"""Staff accounts, safe login redirects, admin navigation and trusted proxies (SQLite + PostgreSQL)."""

from __future__ import annotations

import re
import secrets

import pytest

from cat_server.extensions import db, socketio
from cat_server.models import AuditEvent, Sitting, User
from tests.conftest import login_staff, make_config, make_sitting, password_hash

# Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest). The
# staff login's cost is compared in tests/security/test_staff_accounts.py, on real hashes.
pytestmark = pytest.mark.usefixtures("quick_hashes")

ADMIN = ("admin", "admin-pass-1")
NEW_PASSWORD = "kata-sandi-baru-9"


def staff(username="pengawas", role="proctor", password="rahasia-123") -> User:
    user = User(
        username=username, name=username.title(), role=role, password_hash=password_hash(password)
    )
    db.session.add(user)
    db.session.commit()
    return user


def admin_client(app):
    """A logged-in admin client; a proctor "pengawas" exists and watches sitting 1."""
    with app.app_context():
        staff(ADMIN[0], "admin", ADMIN[1])
        make_sitting(proctor=staff())
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    return client


@pytest.fixture
def admin(app):
    return admin_client(app)


def user_id(app, username) -> int:
    with app.app_context():
        return db.session.execute(db.select(User.id).where(User.username == username)).scalar_one()


def events(app, action) -> list[AuditEvent]:
    with app.app_context():
        rows = (
            db.session.execute(
                db.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
        db.session.expunge_all()
        return rows


def problems(response) -> str:
    html = response.get_data(as_text=True)
    assert 'class="problems-list"' in html, html[:2000]
    return html.split('class="problems-list"', 1)[1].split("</div>", 1)[0]


def test_an_admin_creates_a_proctor_who_can_log_in_and_it_is_audited(app, admin):
    response = admin.post(
        "/admin/users",
        data={
            "username": "Budi.S",
            "name": "Budi Santoso",
            "role": "proctor",
            "password": "pengawas-baru-1",
            "reason": "pengawas baru gedung B",
        },
    )
    assert response.status_code == 302 and "/admin/users#user-" in response.headers["Location"]
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "budi.s" in page and "Budi Santoso" in page
    assert login_staff(app.test_client(), "budi.s", "pengawas-baru-1").status_code == 302
    (event,) = events(app, "user_created")
    assert event.actor == f"user:{user_id(app, 'admin')}"
    assert event.reason == "pengawas baru gedung B" and event.at is not None
    assert event.data == {
        "user_id": user_id(app, "budi.s"),
        "username": "budi.s",
        "role": "proctor",
    }
    assert "pengawas-baru-1" not in str(event.data)  # the password is never in the log


def test_a_bad_new_account_lists_every_problem_and_creates_nothing(app, admin):
    with app.app_context():
        before = db.session.query(User).count()
    response = admin.post(
        "/admin/users",
        data={"username": "pengawas", "name": "", "role": "root", "password": "pendek"},
    )
    assert response.status_code == 422
    text = problems(response)
    assert "nama pengguna pengawas sudah dipakai" in text
    assert "isi nama lengkap" in text
    assert "pilih admin atau pengawas" in text
    assert "kata sandi minimal 10 karakter" in text
    with app.app_context():
        assert db.session.query(User).count() == before
    assert not events(app, "user_created")
    english = admin.post(
        "/admin/users?lang=en",
        data={"username": "x y", "name": "X", "role": "proctor", "password": "x" * 12},
    )
    assert english.status_code == 422
    assert "2–40 characters" in problems(english)


def test_role_change_is_audited_with_before_after_and_needs_a_reason(app, admin):
    proctor = user_id(app, "pengawas")
    no_reason = admin.post(f"/admin/users/{proctor}/role", data={"role": "admin"})
    assert no_reason.status_code == 422
    assert "isi alasannya" in problems(no_reason)
    with app.app_context():
        assert db.session.get(User, proctor).role == "proctor"
    done = admin.post(
        f"/admin/users/{proctor}/role", data={"role": "admin", "reason": "koordinator baru"}
    )
    assert done.status_code == 302
    (event,) = events(app, "user_role_changed")
    assert event.reason == "koordinator baru"
    assert event.data["before"] == "proctor" and event.data["after"] == "admin"
    client = app.test_client()
    assert login_staff(client).status_code == 302
    assert client.get("/admin/users").status_code == 200  # the new admin reaches /admin


def test_a_password_reset_ends_the_old_sessions_and_the_old_password(app, admin):
    proctor = user_id(app, "pengawas")
    old_session = app.test_client()
    assert login_staff(old_session).status_code == 302
    assert old_session.get("/proctor/").status_code == 200
    short = admin.post(
        f"/admin/users/{proctor}/password", data={"password": "pendek", "reason": "lupa"}
    )
    assert short.status_code == 422
    assert old_session.get("/proctor/").status_code == 200  # nothing changed
    done = admin.post(
        f"/admin/users/{proctor}/password",
        data={"password": NEW_PASSWORD, "reason": "lupa kata sandi"},
    )
    assert done.status_code == 302
    gone = old_session.get("/proctor/")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert login_staff(app.test_client()).status_code == 401
    assert login_staff(app.test_client(), "pengawas", NEW_PASSWORD).status_code == 302
    (event,) = events(app, "user_password_reset")
    assert event.reason == "lupa kata sandi" and NEW_PASSWORD not in str(event.data)


def test_a_deactivated_user_cannot_log_in_and_their_session_stops(app, admin):
    proctor = user_id(app, "pengawas")
    session = app.test_client()
    assert login_staff(session).status_code == 302
    assert session.get("/proctor/sittings/1").status_code == 200
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=session)
    assert sock.emit("watch", {"sitting": 1}, namespace="/proctor", callback=True)["ok"]
    assert (
        admin.post(
            f"/admin/users/{proctor}/active", data={"active": "0", "reason": "pindah tugas"}
        ).status_code
        == 302
    )
    stopped = session.get("/proctor/sittings/1")
    assert stopped.status_code == 302 and "/login" in stopped.headers["Location"]
    # the open live console is disconnected at once and cannot come back
    assert not sock.is_connected("/proctor")
    again = socketio.test_client(app, namespace="/proctor", flask_test_client=session)
    assert not again.is_connected("/proctor")
    with app.app_context():
        assert db.session.get(Sitting, 1).status == "open"
    assert login_staff(app.test_client()).status_code == 401
    page = admin.get("/admin/users").get_data(as_text=True)
    assert re.search(r'data-username="pengawas".*?nonaktif', page, re.S)
    assert (
        admin.post(
            f"/admin/users/{proctor}/active", data={"active": "1", "reason": "kembali"}
        ).status_code
        == 302
    )
    assert login_staff(app.test_client()).status_code == 302
    assert [e.reason for e in events(app, "user_deactivated")] == ["pindah tugas"]
    assert [e.reason for e in events(app, "user_reactivated")] == ["kembali"]


def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(app, admin):
    me = user_id(app, "admin")
    for url, data in (
        (f"/admin/users/{me}/role", {"role": "proctor"}),
        (f"/admin/users/{me}/active", {"active": "0"}),
    ):
        refused = admin.post(url, data={**data, "reason": "coba"})
        assert refused.status_code == 422
        assert "administrator aktif terakhir" in problems(refused)
    with app.app_context():
        me_now = db.session.get(User, me)
        assert me_now.role == "admin" and me_now.active
    assert admin.get("/admin/").status_code == 200
    # with a second active admin, stepping down is allowed
    assert (
        admin.post(
            "/admin/users",
            data={
                "username": "admin2",
                "name": "Admin Dua",
                "role": "admin",
                "password": "admin-dua-123",
            },
        ).status_code
        == 302
    )
    assert (
        admin.post(
            f"/admin/users/{me}/role", data={"role": "proctor", "reason": "serah terima"}
        ).status_code
        == 302
    )
    # a role change ends the user's sessions; logged in again, the user is a proctor
    assert admin.get("/admin/").status_code == 302
    assert login_staff(admin, *ADMIN).status_code == 302
    assert admin.get("/admin/").status_code == 403
    second = app.test_client()
    assert login_staff(second, "admin2", "admin-dua-123").status_code == 302
    other = user_id(app, "admin2")
    assert (
        second.post(f"/admin/users/{other}/active", data={"active": "0", "reason": "x"}).status_code
        == 422
    )


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, admin, db_url):
    """PostgreSQL: the second change waits for the first and then sees it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite runs one writer at a time anyway)")
    import threading

    import psycopg

    with app.app_context():
        staff("admin2", "admin", "admin-dua-123")
    me = user_id(app, "admin")
    other = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://", 1))
    other.execute("""UPDATE "user" SET role = 'proctor' WHERE username = 'admin2'""")
    result = {}
    step_down = threading.Thread(
        target=lambda: result.setdefault(
            "response",
            admin.post(f"/admin/users/{me}/role", data={"role": "proctor", "reason": "serentak"}),
        )
    )
    step_down.start()
    step_down.join(1.0)
    assert step_down.is_alive(), "the demotion did not wait for the other admin's change"
    other.commit()
    other.close()
    step_down.join(10)
    assert result["response"].status_code == 422
    assert "administrator aktif terakhir" in problems(result["response"])
    with app.app_context():
        assert db.session.get(User, me).role == "admin"


def test_proctors_of_a_sitting_are_set_on_its_page_and_audited(app, admin):
    with app.app_context():
        other = staff("pengawas2").id
    page = admin.get("/admin/sittings/1").get_data(as_text=True)
    assert 'data-testid="sitting-proctors"' in page
    assert (
        admin.post("/admin/sittings/1/proctors", data={"proctors": [str(other)]}).status_code == 422
    )  # no reason
    moved = admin.post(
        "/admin/sittings/1/proctors", data={"proctors": [str(other)], "reason": "tukar jadwal"}
    )
    assert moved.status_code == 302
    (event,) = events(app, "sitting_proctors_changed")
    assert event.sitting_id == 1 and event.reason == "tukar jadwal"
    assert event.data == {"before": ["pengawas"], "after": ["pengawas2"]}
    first_client, second_client = app.test_client(), app.test_client()
    assert login_staff(first_client).status_code == 302
    assert login_staff(second_client, "pengawas2").status_code == 302
    assert first_client.get("/proctor/sittings/1").status_code == 403
    assert second_client.get("/proctor/sittings/1").status_code == 200
    # an admin is no proctor to assign
    refused = admin.post(
        "/admin/sittings/1/proctors", data={"proctors": [str(user_id(app, "admin"))], "reason": "x"}
    )
    assert refused.status_code == 422
    with app.app_context():
        assert [p.id for p in db.session.get(Sitting, 1).proctors] == [other]


USER_ROUTES = [
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("POST", "/admin/users/{id}/role"),
    ("POST", "/admin/users/{id}/password"),
    ("POST", "/admin/users/{id}/active"),
    ("POST", "/admin/sittings/1/proctors"),
]


def test_a_proctor_gets_403_on_every_users_route_and_changes_nothing(app, admin):
    target = user_id(app, "admin")
    client = app.test_client()
    assert login_staff(client).status_code == 302
    form = {
        "username": "x1",
        "name": "X",
        "role": "admin",
        "password": "z" * 12,
        "active": "0",
        "reason": "x",
        "proctors": ["1"],
    }
    for method, url in USER_ROUTES:
        response = client.open(url.format(id=target), method=method, data=form)
        assert response.status_code == 403, (method, url)
    with app.app_context():
        assert db.session.query(User).count() == 2
        assert db.session.get(User, target).role == "admin"


def test_user_forms_without_a_csrf_token_are_rejected(app, admin):
    app.config["WTF_CSRF_ENABLED"] = True
    proctor = user_id(app, "pengawas")
    form = {
        "username": "tanpa",
        "name": "Tanpa Token",
        "role": "admin",
        "password": "z" * 12,
        "active": "0",
        "reason": "x",
    }
    for _, url in USER_ROUTES[1:]:
        assert admin.post(url.format(id=proctor), data=form).status_code == 400, url
    page = admin.get("/admin/users").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert admin.post("/admin/users", data={**form, "csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.query(User).count() == 3
        assert db.session.get(User, proctor).active


def test_cli_create_admin_only_when_the_centre_has_none(app, runner):
    short = runner.invoke(
        args=["create-admin", "kepala", "--name", "Kepala UPT", "--password", "pendek"]
    )
    assert short.exit_code == 2 and "minimal 10" in short.output
    made = runner.invoke(
        args=["create-admin", "kepala", "--name", "Kepala UPT", "--password", "kepala-upt-2026"]
    )
    assert made.exit_code == 0, made.output
    assert login_staff(app.test_client(), "kepala", "kepala-upt-2026").status_code == 302
    again = runner.invoke(
        args=["create-admin", "kepala2", "--name", "Lain", "--password", "kepala-upt-2026"]
    )
    assert again.exit_code == 2 and "sudah ada administrator aktif" in again.output
    (event,) = events(app, "user_created")
    assert event.actor == "cli" and event.data["role"] == "admin"


# --- login redirects and navigation ------------------------------------------------


def test_login_returns_to_a_safe_next_page_only(app):
    with app.app_context():
        staff(ADMIN[0], "admin", ADMIN[1])
    client = app.test_client()
    bounced = client.get("/admin/users")
    assert bounced.status_code == 302
    login_page = client.get(bounced.headers["Location"]).get_data(as_text=True)
    next_value = re.search(r'name="next" value="([^"]*)"', login_page).group(1)
    assert next_value == "/admin/users"
    landed = client.post(
        "/login", data={"username": ADMIN[0], "password": ADMIN[1], "next": next_value}
    )
    assert landed.headers["Location"] == "/admin/users"
    for evil, where in (("//evil.example", "form"), ("https://evil.example/", "query")):
        other = app.test_client()
        response = other.post(
            "/login",
            query_string={"next": evil} if where == "query" else {},
            data={
                "username": ADMIN[0],
                "password": ADMIN[1],
                **({"next": evil} if where == "form" else {}),
            },
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/proctor/", (evil, where)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil",
        "http:/evil.example",
        "/\r\nSet-Cookie:x",
        "javascript:alert(1)",
        "/\tevil",
        " //evil.example",
        "evil.example",
        "",
        None,
    ],
)
def test_safe_next_refuses_anything_but_a_path_on_this_site(target):
    from cat_server.auth import safe_next

    assert safe_next(target) is None
    assert safe_next("/admin/banks/3?section=TWK#item-4") == "/admin/banks/3?section=TWK#item-4"


def test_an_idle_admin_logs_in_again_and_returns_to_the_same_page(app, admin):
    assert admin.get("/admin/").status_code == 200
    app.config["ADMIN_IDLE_TIMEOUT"] = -1  # every gap counts as idle
    timed_out = admin.get("/admin/users?x=1")
    assert timed_out.status_code == 302
    assert timed_out.headers["Location"] == "/login?next=/admin/users?x%3D1"
    app.config["ADMIN_IDLE_TIMEOUT"] = 1800
    page = admin.get(timed_out.headers["Location"]).get_data(as_text=True)
    assert "Sesi admin berakhir" in page
    back = re.search(r'name="next" value="([^"]*)"', page).group(1)
    again = admin.post("/login", data={"username": ADMIN[0], "password": ADMIN[1], "next": back})
    assert again.headers["Location"] == "/admin/users?x=1"


def test_the_proctor_page_links_admins_to_administration(app):
    with app.app_context():
        staff(ADMIN[0], "admin", ADMIN[1])
        staff()
    admin, proctor = app.test_client(), app.test_client()
    login_staff(admin, *ADMIN)
    login_staff(proctor)
    assert 'data-testid="admin-link"' in admin.get("/proctor/").get_data(as_text=True)
    assert 'href="/admin/users"' in admin.get("/admin/").get_data(as_text=True)
    assert "admin-link" not in proctor.get("/proctor/").get_data(as_text=True)


# --- trusted proxies and the per-IP login limit ---------------------------------------


def _limited_app(db_url, proxies):
    from cat_server import create_app

    return create_app(
        make_config(db_url, TRUSTED_PROXIES=proxies, LOGIN_LIMIT_PER_IP="3 per minute")
    )


def _client_at(app, address):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _attempt(client, forwarded_for):
    # a new username each time, so only the per-IP limit can answer 429
    return client.post(
        "/login",
        headers={"X-Forwarded-For": forwarded_for},
        data={"username": f"nobody-{secrets.token_hex(4)}", "password": "salah"},
    ).status_code


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_per_ip_limit_believes_x_forwarded_for_only_from_trusted_proxies(app, db_url, proxies):
    limited = _limited_app(db_url, proxies)
    proxy = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    client = _client_at(limited, proxy)
    first, second = (f"192.0.2.{secrets.randbelow(250)}", f"198.51.100.{secrets.randbelow(250)}")
    assert [_attempt(client, first) for _ in range(3)] == [401, 401, 401]
    assert _attempt(client, first) == 429
    if proxies:  # behind nginx: each workstation has its own count
        assert _attempt(client, second) == 401
        assert _attempt(client, f"{second}, {first}") == 429  # only the last hop is believed
    else:  # not behind a proxy: a made-up header changes nothing
        assert _attempt(client, second) == 429
        assert _attempt(_client_at(limited, second), first) == 401
    with limited.app_context():
        db.session.remove()
        db.engine.dispose()
