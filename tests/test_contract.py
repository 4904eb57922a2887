"""The workstation contract for any client: versions and machine-readable refusals (issue 17)."""

import pytest

from cat_server.exam import payloads
from cat_server.extensions import db, socketio
from cat_server.models import Sitting
from tests.conftest import PIN, make_sitting

JSON = {"Accept": "application/json"}


def post_login(client, sitting_id, registration_no, pin=PIN):
    return client.post(
        f"/exam/{sitting_id}/",
        data={"registration_no": registration_no, "pin": pin},
        headers=JSON,
    )


def test_the_state_names_the_protocol_and_another_version_is_refused(app):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    client = app.test_client()
    assert post_login(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(
        app, namespace="/exam", flask_test_client=client, auth={"device": "a", "protocol": 2}
    )
    state = sock.get_received("/exam")[0]["args"][0]
    assert state["protocol"] == payloads.PROTOCOL_VERSION == 2
    sock.disconnect(namespace="/exam")
    old = socketio.test_client(
        app, namespace="/exam", flask_test_client=client, auth={"device": "a", "protocol": 1}
    )
    assert not old.is_connected("/exam")


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("wrong_pin", 401, "login_failed"),
        ("scheduled", 409, "check_in_closed"),
        ("ended", 409, "sitting_ended"),
    ],
)
def test_login_refusals_are_json_with_a_stable_code_when_asked(app, setup, status, code):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
        sitting = db.session.get(Sitting, sitting_id)
        if setup == "scheduled":
            sitting.status = "scheduled"
        elif setup == "ended":
            sitting.status = "ended"
        db.session.commit()
    reply = post_login(
        app.test_client(), sitting_id, "20260001", "999999" if setup == "wrong_pin" else PIN
    )
    assert reply.status_code == status
    body = reply.get_json()
    assert body["ok"] is False and body["error"] == code and body["message"] and body["message_en"]
    html = app.test_client().post(
        f"/exam/{sitting_id}/", data={"registration_no": "20260001", "pin": "999999"}
    )
    assert html.mimetype == "text/html"  # a browser still gets the page


def test_too_many_wrong_pins_is_json_429_with_retry_after(app):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    client = app.test_client()
    replies = [post_login(client, sitting_id, "20260001", "000000") for _ in range(7)]
    last = replies[-1]
    assert last.status_code == 429 and last.get_json()["error"]
    assert int(last.headers["Retry-After"]) > 0
