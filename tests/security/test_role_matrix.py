"""Access: the role x route x Socket.IO event matrix (issue 9), complete by construction.

Five roles: anonymous, a candidate logged in to sitting A, the proctor of
sitting A, the proctor of sitting B only, an administrator.

- HTTP: every rule of ``app.url_map`` with every method, its arguments filled
  with ids of real objects of sitting A, is tried as each role; the answer must
  be one of the outcomes in ``ROUTES`` (a status code, or ``"302 /path"`` for a
  redirect). A route missing from the table, or a table row without a route,
  fails the test, so a new route cannot be forgotten.
- Socket.IO: every namespace the server registers and every ``on_*`` handler
  of its Namespace class is in ``EVENTS``; who may connect, and for the roles
  that may, which events are refused on a foreign sitting or attempt.

CSRF is off here (conftest); that forms need a token is tested in
tests/test_admin.py::test_forms_without_a_csrf_token_are_rejected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cat_server.extensions import db, socketio
from cat_server.models import Attempt, AuditEvent, Candidate, Exam, Item, Sitting
from tests.conftest import login_candidate, login_staff, make_sitting, make_user

ROLES = ("anonymous", "candidate", "proctor_b", "proctor_a", "admin")
STAFF = ("proctor_b", "proctor_a", "admin")
ADMIN_PASSWORD = "admin-pass-1"

LOGIN = "302 /login"  # the staff login page (login_required / require_admin)


def every(outcome) -> dict:
    return {role: outcome for role in ROLES}


def staff_only(proctor_b, proctor_a=200, admin=200) -> dict:
    return {
        "anonymous": LOGIN,
        "candidate": LOGIN,
        "proctor_b": proctor_b,
        "proctor_a": proctor_a,
        "admin": admin,
    }


def admin_only(admin) -> dict:
    """/admin: anonymous and candidates to the login page, proctors 403 (require_admin)."""
    return staff_only(proctor_b=403, proctor_a=403, admin=admin)


EMPTY_FORM = 422  # an empty admin form is shown again with its problems

# (endpoint, method) -> role -> the outcome (or a set of outcomes) allowed.
# Arguments are sitting A's ids; "{A}" in an outcome is sitting A's id.
ROUTES = {
    # public
    ("exam.healthz", "GET"): every(200),
    ("static", "GET"): every(200),
    # engine.io answers /socket.io/ before Flask (a bare GET: 400, no handshake); the
    # rule only lets socket events' request contexts match (realtime.match_socket_path)
    ("socketio_transport", "GET"): every(400),
    ("auth.login", "GET"): every(200),
    ("auth.login", "POST"): every(401),  # an empty form: wrong user or password
    ("auth.home", "GET"): {
        "anonymous": 200,
        "candidate": 200,
        "proctor_b": "302 /proctor/",
        "proctor_a": "302 /proctor/",
        "admin": "302 /proctor/",
    },
    ("auth.logout", "POST"): every(LOGIN),
    ("board.page", "GET"): every(200),  # sitting A's exam shows its board
    # the candidate's pages: only the candidate's session reaches the exam
    ("exam.login", "GET"): {**every(200), "candidate": "302 /exam/{A}/take"},
    ("exam.login", "POST"): every(401),  # an empty form: wrong number or PIN
    ("exam.take", "GET"): {**every("302 /exam/{A}/"), "candidate": 200},
    ("exam.logout", "POST"): every("302 /exam/{A}/"),
    # staff: any media (this item has none); a candidate: only what was presented to them
    # (nothing yet: 404, so nothing tells whether an item has media); nobody else
    ("exam.item_media", "GET"): {**every(404), "anonymous": 403},
    # an image inside the item's HTML, by its place: the same rule (this item has none)
    ("exam.inline_image", "GET"): {**every(404), "anonymous": 403},
    # proctor pages: a proctor of another sitting gets 403
    ("proctor.index", "GET"): staff_only(proctor_b=200),
    ("proctor.sitting", "GET"): staff_only(proctor_b=403),
    ("proctor.incident_report", "GET"): staff_only(proctor_b=403),
    ("proctor.incident_report_csv", "GET"): staff_only(proctor_b=403),
    # sitting A has no sealed package: refused with a message, back to the console
    ("proctor.release_package", "POST"): staff_only(
        proctor_b=403, proctor_a="302 /proctor/sittings/{A}", admin="302 /proctor/sittings/{A}"
    ),
    # fetching the code from the issuer: the same (no issuer URL here: told so, back)
    ("proctor.fetch_package_release", "POST"): staff_only(
        proctor_b=403, proctor_a="302 /proctor/sittings/{A}", admin="302 /proctor/sittings/{A}"
    ),
    # administration
    ("admin.dashboard", "GET"): admin_only(200),
    ("admin.audit_page", "GET"): admin_only(200),
    ("admin.banks_page", "GET"): admin_only(200),
    ("admin.banks_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.packages_page", "GET"): admin_only(200),
    ("admin.packages_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.bank_detail", "GET"): admin_only(200),
    ("admin.bank_export", "GET"): admin_only(200),
    ("admin.bank_information", "GET"): admin_only(200),
    ("admin.bank_stats", "GET"): admin_only(200),
    ("admin.calibration_page", "GET"): admin_only(200),
    ("admin.calibration_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.calibration_review", "GET"): admin_only(404),  # no run with that token
    ("admin.calibration_review", "POST"): admin_only(404),
    ("admin.candidates_import", "POST"): admin_only(EMPTY_FORM),
    ("admin.exams_page", "GET"): admin_only(200),
    ("admin.exams_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.exam_board", "POST"): admin_only("302 /admin/exams"),
    ("admin.item_status", "POST"): admin_only(400),  # no status: nothing changes
    ("admin.item_preview", "GET"): admin_only(200),
    ("admin.section_preview", "GET"): admin_only(200),
    ("admin.bank_preview", "GET"): admin_only(200),
    ("admin.exam_builder_page", "GET"): admin_only(200),
    ("admin.exam_builder_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.exam_export", "GET"): admin_only(200),
    ("admin.exam_import", "POST"): admin_only({400, 422}),  # no file: the problem is named
    # the JSON API takes a bearer token only: no cookie of any role opens it (tests/test_api.py)
    **{
        (f"api.{name}", method): every(401)
        for name, method in [
            ("bank_list", "GET"),
            ("bank_import", "POST"),
            ("exam_list", "GET"),
            ("exam_detail", "GET"),
            ("exam_import", "POST"),
            ("sitting_list", "GET"),
            ("sitting_create", "POST"),
            ("candidates_import", "POST"),
            ("score_export", "GET"),
        ]
    },
    # the centre's monitoring: the test client is on loopback, which CAT_METRICS_ALLOW admits
    ("metrics", "GET"): every(200),
    ("admin.scores_page", "GET"): admin_only(200),
    ("admin.scores_export", "GET"): admin_only(200),
    ("admin.responses_export", "GET"): admin_only(200),
    ("admin.response_log_export", "GET"): admin_only(200),
    ("admin.sittings_page", "GET"): admin_only(200),
    ("admin.sittings_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.sitting_detail", "GET"): admin_only(200),
    ("admin.sitting_pins", "POST"): admin_only(EMPTY_FORM),  # no reason: the sheet needs one
    ("admin.sitting_proctors", "POST"): admin_only(EMPTY_FORM),
    ("admin.users_page", "GET"): admin_only(200),
    ("admin.users_page", "POST"): admin_only(EMPTY_FORM),
    ("admin.user_active", "POST"): admin_only(EMPTY_FORM),
    ("admin.user_password", "POST"): admin_only(EMPTY_FORM),
    ("admin.user_role", "POST"): admin_only(EMPTY_FORM),
    ("admin.verify", "POST"): admin_only(200),  # the audit chain check
    # signed result bundles (docs/results.md): sitting A is not over, so no bundle: told why
    ("results.results_page", "GET"): admin_only(200),
    ("results.export", "POST"): admin_only("302 /admin/results/"),
    # the national endpoint: only a bundle's signature counts; an empty body is no bundle
    ("results_api.receive", "POST"): every(422),
    # the issuer's release endpoint: only a request's signature counts; this is no issuer
    ("issuer_api.answer_release", "POST"): every(404),
}

# Requests that end the role's session: tried last for each role.
SESSION_ENDERS = {("auth.logout", "POST"), ("exam.logout", "POST")}

OK, FORBIDDEN, REFUSED = "ok", "forbidden", "refused"

# namespace -> who may connect
CONNECT = {
    "/exam": {"candidate"},
    "/proctor": set(STAFF),
    "/board": set(ROLES),
}

# the order proctor events are tried in (the sitting is ended last)
PROCTOR_ORDER = [
    "watch",
    "release_package",
    "open_check_in",
    "start_sitting",
    "pause_seat",
    "resume_seat",
    "pause_sitting",
    "resume_sitting",
    "extend_seat",
    "extend_sitting",
    "free_seats",
    "move_seat",
    "lockouts",
    "lift_lockout",
    "reset_pin",
    "end_session",
    "note_incident",
    "acknowledge",
    "configure_board",
    "end_attempt",
    "end_sitting",
]

# (namespace, event) -> role -> the answer on sitting A (a candidate: with another
# candidate's attempt; the admin, a proctor of no sitting: on sitting B): OK (an ack
# that is not forbidden / bad_payload / not_found: the role may act, a state error
# like not_in_progress is fine) or the refusal's error code.
EVENTS = {
    ("/exam", "answer"): {"candidate": "bad_payload"},  # another candidate's attempt
    ("/exam", "mark"): {"candidate": "bad_payload"},
    ("/exam", "finish_section"): {"candidate": "bad_payload"},
    ("/exam", "focus_lost"): {"candidate": OK},  # no attempt field: the session's own
    ("/exam", "sync"): {"candidate": OK},
    ("/exam", "call_proctor"): {"candidate": OK},  # no attempt field: the session's own
    ("/board", "watch"): every(OK),  # sitting A shows a board; B's is off (checked below)
    **{
        ("/proctor", event): {"proctor_b": FORBIDDEN, "proctor_a": OK, "admin": OK}
        for event in PROCTOR_ORDER
        if event != "configure_board"
    },
    ("/proctor", "configure_board"): {"proctor_b": FORBIDDEN, "proctor_a": FORBIDDEN, "admin": OK},
}


def events_registered() -> set[tuple[str, str]]:
    found = set()
    for namespace, handler in socketio.server.namespace_handlers.items():
        for name in dir(type(handler)):
            if name.startswith("on_") and name not in ("on_connect", "on_disconnect"):
                found.add((namespace, name[3:]))
    return found


def seed(app) -> dict:
    with app.app_context():
        make_user("admin", "admin", ADMIN_PASSWORD)
        proctor_a = make_user("pengawas")
        proctor_b = make_user("pengawas2")
        spare = make_user("cadangan")  # the admin's user forms act on this one
        sitting_a = make_sitting(n_candidates=2, proctor=proctor_a, name="A")
        sitting_b = make_sitting(n_candidates=1, proctor=proctor_b, name="B")
        db.session.get(Sitting, sitting_a).exam.board_enabled = True
        db.session.commit()
        item = (
            db.session.execute(
                db.select(Item)
                .join(Exam, Exam.bank_id == Item.bank_id)
                .join(Sitting, Sitting.exam_id == Exam.id)
                .where(Sitting.id == sitting_a)
            )
            .scalars()
            .first()
        )
        sitting = db.session.get(Sitting, sitting_a)
        return {
            "sitting_id": sitting_a,
            "sitting_b": sitting_b,
            "bank_id": item.bank_id,
            "item_id": item.id,
            "n": 0,  # the first image inside the item's HTML (it has none)
            "exam_id": sitting.exam_id,
            "user_id": spare.id,
            "fmt": "csv",
            "token": "no-such-run",
            "filename": "css/app.css",
            "position": 1,
        }


def clients_of(app, ids) -> dict:
    clients = {role: app.test_client() for role in ROLES}
    assert login_candidate(clients["candidate"], ids["sitting_id"], "20260001").status_code == 302
    assert login_staff(clients["proctor_a"], "pengawas").status_code == 302
    assert login_staff(clients["proctor_b"], "pengawas2").status_code == 302
    assert login_staff(clients["admin"], "admin", ADMIN_PASSWORD).status_code == 302
    return clients


def outcome(response) -> int | str:
    if response.status_code in (301, 302, 303):
        return f"{response.status_code} {urlsplit(response.headers['Location']).path}"
    return response.status_code


def test_every_route_answers_each_role_as_the_table_says(app):
    ids = seed(app)
    rules = {
        (rule.endpoint, method): rule
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(rules) - set(ROUTES) == set(), "routes missing from ROUTES: add their row"
    assert set(ROUTES) - set(rules) == set(), "ROUTES rows without a route"
    clients = clients_of(app, ids)
    query = {
        "admin.scores_export": {"sitting": ids["sitting_id"]},
        "admin.responses_export": {"sitting": ids["sitting_id"]},
        "admin.response_log_export": {"sitting": ids["sitting_id"]},
    }
    with app.test_request_context():
        urls = {
            key: app.url_for(
                rule.endpoint, **{a: ids[a] for a in rule.arguments}, **query.get(rule.endpoint, {})
            )
            for key, rule in rules.items()
        }
    order = sorted(rules, key=lambda key: (key in SESSION_ENDERS, key))
    # (before the logouts below) A's candidate session opens A's exam page, not B's
    assert clients["candidate"].get(f"/exam/{ids['sitting_id']}/take").status_code == 200
    take_b = clients["candidate"].get(f"/exam/{ids['sitting_b']}/take")
    assert outcome(take_b) == f"302 /exam/{ids['sitting_b']}/"
    wrong = []
    tried = 0
    for role in ROLES:  # the admin last: its forms change things
        for key in order:
            endpoint, method = key
            want = ROUTES[key][role]
            want = want if isinstance(want, set) else {want}
            want = {
                w.format(A=ids["sitting_id"], bank=ids["bank_id"]) if isinstance(w, str) else w
                for w in want
            }
            got = outcome(clients[role].open(urls[key], method=method))
            tried += 1
            if got not in want:
                wrong.append((role, method, urls[key], got, sorted(map(str, want))))
    assert not wrong, "\n".join(map(str, wrong))
    assert tried == len(rules) * len(ROLES)
    # sitting B's exam shows no board: 404 for everyone, as for an unknown sitting
    for client in clients.values():
        assert client.get(f"/board/{ids['sitting_b']}").status_code == 404


def connect(app, client, namespace):
    return socketio.test_client(app, namespace=namespace, flask_test_client=client)


def payloads(ids, foreign_attempt, foreign_item, sitting="sitting_id") -> dict:
    a = ids[sitting]
    action = {"sitting": a, "reason": "uji matriks"}
    seat = {**action, "candidate": ids["candidate_of", sitting]}
    return {
        ("/exam", "answer"): {
            "attempt": foreign_attempt,
            "seq": 1,
            "item": foreign_item,
            "choice": "A",
        },
        ("/exam", "mark"): {"attempt": foreign_attempt, "seq": 1, "marked": True},
        ("/exam", "finish_section"): {"attempt": foreign_attempt, "section": 1},
        ("/exam", "focus_lost"): {},
        ("/exam", "sync"): {},
        ("/exam", "call_proctor"): {},
        ("/board", "watch"): {"sitting": a},
        ("/proctor", "watch"): {"sitting": a},
        ("/proctor", "release_package"): {"sitting": a, "code": "XXXX-XXXX-XXXX-XXXX-XX"},
        ("/proctor", "open_check_in"): action,
        ("/proctor", "start_sitting"): action,
        ("/proctor", "pause_seat"): seat,
        ("/proctor", "resume_seat"): seat,
        ("/proctor", "pause_sitting"): action,
        ("/proctor", "resume_sitting"): action,
        ("/proctor", "extend_seat"): {**seat, "minutes": 5},
        ("/proctor", "extend_sitting"): {**action, "minutes": 5},
        ("/proctor", "free_seats"): {"sitting": a},
        ("/proctor", "move_seat"): {**seat, "seat": None},
        ("/proctor", "lockouts"): {"sitting": a},
        ("/proctor", "lift_lockout"): seat,
        ("/proctor", "reset_pin"): seat,
        ("/proctor", "end_session"): seat,
        ("/proctor", "note_incident"): {"sitting": a, "category": "other", "text": "uji"},
        ("/proctor", "acknowledge"): {**seat, "flag": "help"},
        ("/proctor", "configure_board"): {**action, "enabled": True},
        ("/proctor", "end_attempt"): seat,
        ("/proctor", "end_sitting"): action,
    }


def state_of(app, sitting_id) -> tuple:
    """What a proctor action could change: the sitting, its attempts, candidates, board."""
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        attempts = db.session.query(Attempt).filter_by(sitting_id=sitting_id).order_by(Attempt.id)
        candidates = db.session.query(Candidate).filter_by(sitting_id=sitting_id)
        state = (
            sitting.status,
            sitting.paused_at,
            sitting.exam.board_enabled,
            [(a.status, a.deadline_at, a.paused_at) for a in attempts],
            sorted((c.id, c.pin_hash, c.seat_id) for c in candidates),
        )
        db.session.rollback()
        return state


def verdict(ack) -> str:
    assert isinstance(ack, dict) and "ok" in ack, ack
    if ack["ok"]:
        return OK
    return ack["error"] if ack["error"] in ("forbidden", "bad_payload", "not_found") else OK


def test_every_socket_event_answers_each_role_as_the_table_says(app):
    ids = seed(app)
    assert events_registered() == set(EVENTS), "events missing from EVENTS (or gone)"
    assert set(socketio.server.namespace_handlers) == set(CONNECT)
    clients = clients_of(app, ids)
    # the other candidates' attempts: A's second seat and B's
    other = app.test_client()
    assert login_candidate(other, ids["sitting_id"], "20260002").status_code == 302
    other_b = app.test_client()
    assert login_candidate(other_b, ids["sitting_b"], "20260001").status_code == 302
    with app.app_context():
        attempts = {
            a.candidate.registration_no + "/" + str(a.sitting_id): a.id
            for a in db.session.query(Attempt)
        }
        mine = attempts[f"20260001/{ids['sitting_id']}"]
        for sitting in ("sitting_id", "sitting_b"):  # the first seat's candidate
            ids["candidate_of", sitting] = db.session.execute(
                db.select(Candidate.id).where(
                    Candidate.sitting_id == ids[sitting], Candidate.registration_no == "20260001"
                )
            ).scalar_one()
    foreign = [attempts[f"20260002/{ids['sitting_id']}"], attempts[f"20260001/{ids['sitting_b']}"]]

    # who may connect
    sockets = {}
    n_connects = 0
    for namespace, allowed in CONNECT.items():
        for role in ROLES:
            sock = connect(app, clients[role], namespace)
            n_connects += 1
            assert sock.is_connected(namespace) == (role in allowed), (namespace, role)
            if role in allowed:
                sockets[namespace, role] = sock

    def audit_rows():
        with app.app_context():
            return db.session.query(AuditEvent).count()

    tried = 0
    # /exam and /board: with each foreign attempt (the events that take one)
    for (namespace, event), by_role in EVENTS.items():
        if namespace == "/proctor":
            continue
        for role, want in by_role.items():
            for attempt_id in foreign:
                data = payloads(ids, attempt_id, ids["item_id"])[namespace, event]
                before = audit_rows()
                ack = sockets[namespace, role].emit(event, data, namespace=namespace, callback=True)
                tried += 1
                assert verdict(ack) == want, (namespace, event, role, ack)
                if want != OK:
                    assert ack.get("field") == "attempt", ack
                    assert audit_rows() == before
    sync = sockets["/exam", "candidate"].emit("sync", {}, namespace="/exam", callback=True)
    assert sync["state"]["attempt"] == mine  # the session's own attempt, never another

    # the proctor of B watches B; A's proctor may not; B's board is off for everyone
    # (before the admin's turn below, which switches it on)
    b = {"sitting": ids["sitting_b"]}
    assert sockets["/proctor", "proctor_b"].emit("watch", b, namespace="/proctor", callback=True)[
        "ok"
    ]
    assert (
        verdict(
            sockets["/proctor", "proctor_a"].emit("watch", b, namespace="/proctor", callback=True)
        )
        == FORBIDDEN
    )
    for role in ROLES:
        ack = sockets["/board", role].emit("watch", b, namespace="/board", callback=True)
        assert ack["error"] == "not_found", (role, ack)
    # A's proctor on A naming B's candidate (a seat of another sitting): not_found, B unchanged
    seat_events = [e for e in PROCTOR_ORDER if "candidate" in payloads(ids, 0, 0)["/proctor", e]]
    assert len(seat_events) == 9, seat_events
    for event in seat_events + ["note_incident"]:
        data = {
            **payloads(ids, 0, 0)["/proctor", event],
            "candidate": ids["candidate_of", "sitting_b"],
        }
        before = audit_rows(), state_of(app, ids["sitting_b"])
        ack = sockets["/proctor", "proctor_a"].emit(
            event, data, namespace="/proctor", callback=True
        )
        assert verdict(ack) == "not_found", (event, ack)
        assert (audit_rows(), state_of(app, ids["sitting_b"])) == before, event
    # /proctor: every event; the proctor of B on sitting A, then A's proctor on A, then the
    # admin (a proctor of no sitting) on B, which no one has touched yet
    target = {"proctor_b": "sitting_id", "proctor_a": "sitting_id", "admin": "sitting_b"}
    for role in STAFF:
        for event in PROCTOR_ORDER:
            want = EVENTS["/proctor", event][role]
            data = payloads(ids, 0, 0, target[role])["/proctor", event]
            before = audit_rows(), state_of(app, ids[target[role]])
            ack = sockets["/proctor", role].emit(event, data, namespace="/proctor", callback=True)
            tried += 1
            assert verdict(ack) == want, (event, role, ack)
            if want == FORBIDDEN:
                after = audit_rows(), state_of(app, ids[target[role]])
                assert after == before, (event, role)  # nothing done
    assert tried == sum(
        len(by_role) * (1 if namespace == "/proctor" else len(foreign))
        for (namespace, _), by_role in EVENTS.items()
    )

    for (namespace, _), sock in sockets.items():
        if sock.is_connected(namespace):
            sock.disconnect(namespace=namespace)
