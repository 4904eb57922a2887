"""The public score board: off unless the exam turns it on, only the configured fields."""

import pytest

from cat_server.extensions import db, socketio
from cat_server.models import Exam, Sitting
from cat_server.proctor import board, feed
from tests.conftest import login_candidate, make_sitting


def configure(app, sitting_id, enabled, fields=None):
    with app.app_context():
        exam = db.session.get(Exam, db.session.get(Sitting, sitting_id).exam_id)
        exam.board_enabled, exam.board_fields = enabled, fields
        db.session.commit()


@pytest.fixture
def sitting_with_answers(app):
    """3 seats; PC-01 answered every item right and finished, PC-02 logged in."""
    with app.app_context():
        sitting_id = make_sitting(n_candidates=3, n_items=2)
        from cat_server.exam import attempts

        attempts.start_sitting(sitting_id, "test")
    client = app.test_client()
    login_candidate(client, sitting_id, "20260001")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = sock.emit("sync", namespace="/exam", callback=True)["state"]
    for choice in "AB":
        state = sock.emit(
            "answer",
            {
                "attempt": state["attempt"],
                "seq": state["seq"],
                "item": state["item"]["id"],
                "choice": choice,
            },
            namespace="/exam",
            callback=True,
        )["state"]
    assert state["status"] == "finished"
    login_candidate(app.test_client(), sitting_id, "20260002")
    return sitting_id


def test_the_board_is_off_unless_the_exam_turns_it_on(app, sitting_with_answers):
    client = app.test_client()
    assert client.get(f"/board/{sitting_with_answers}").status_code == 404
    assert client.get("/board/999").status_code == 404
    sock = socketio.test_client(app, namespace="/board")
    ack = sock.emit("watch", {"sitting": sitting_with_answers}, namespace="/board", callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found"


def test_the_board_needs_no_login_and_shows_only_the_configured_fields(app, sitting_with_answers):
    configure(app, sitting_with_answers, True, ["registration_no", "total", "passed"])
    page = app.test_client().get(f"/board/{sitting_with_answers}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Peserta 1" not in html and "20260001" not in html
    sock = socketio.test_client(app, namespace="/board")
    ack = sock.emit("watch", {"sitting": sitting_with_answers}, namespace="/board", callback=True)
    assert ack["ok"] and ack["fields"] == ["registration_no", "total", "passed"]
    assert ack["rows"] == [
        {"registration_no": "20****01", "total": 10, "passed": True, "status": "finished"},
        {"registration_no": "20****02", "total": None, "passed": None, "status": "in_progress"},
    ]
    text = str(ack)
    assert "Peserta" not in text and "20260001" not in text and "candidate" not in text


def test_default_fields_show_seat_name_sections_and_pass_status(app, sitting_with_answers):
    configure(app, sitting_with_answers, True)
    sock = socketio.test_client(app, namespace="/board")
    ack = sock.emit("watch", {"sitting": sitting_with_answers}, namespace="/board", callback=True)
    first = ack["rows"][0]
    assert set(first) == {
        "seat",
        "registration_no",
        "name",
        "sections",
        "total",
        "passed",
        "status",
    }
    assert first["sections"] == {"TWK": 10} and first["name"] == "Peserta 1"
    assert ack["sections"] == [{"code": "TWK", "name": "Tes Wawasan Kebangsaan", "pass_mark": 5}]


def test_the_board_updates_live_and_goes_dark_when_turned_off(app, sitting_with_answers):
    configure(app, sitting_with_answers, True, ["registration_no", "progress"])
    sock = socketio.test_client(app, namespace="/board")
    sock.emit("watch", {"sitting": sitting_with_answers}, namespace="/board", callback=True)
    client = app.test_client()
    login_candidate(client, sitting_with_answers, "20260003")
    with app.app_context():
        feed.take_dirty()
        feed.seat_changed(sitting_with_answers, None)
        feed.flush_boards([sitting_with_answers], force=True)
    boards = [e["args"][0] for e in sock.get_received("/board") if e["name"] == "board"]
    assert [r["registration_no"] for r in boards[-1]["rows"]] == [
        "20****01",
        "20****02",
        "20****03",
    ]
    configure(app, sitting_with_answers, False)
    with app.app_context():
        feed.flush_boards([sitting_with_answers], force=True)
    assert [e["args"][0] for e in sock.get_received("/board")][-1] == {"off": True}


@pytest.mark.parametrize(
    ("number", "masked"),
    [("202600000001", "2026****0001"), ("20260001", "20****01"), ("1234", "1****4")],
)
def test_registration_numbers_are_masked(number, masked):
    assert board.mask(number) == masked


def test_unknown_board_fields_are_refused_by_name():
    from cat_server.errors import BadPayload

    with pytest.raises(BadPayload) as error:
        board.check_fields(["total", "pin"])
    assert "'pin'" in error.value.message_en


def test_the_admin_form_turns_the_board_on_with_chosen_fields_audited(app, sitting_with_answers):
    from cat_server.models import AuditEvent
    from tests.conftest import login_staff, make_user

    with app.app_context():
        make_user("kepala", "admin", "rahasia-456")
        exam_id = db.session.get(Sitting, sitting_with_answers).exam_id
    admin = app.test_client()
    assert login_staff(admin, "kepala", "rahasia-456").status_code == 302
    page = admin.get("/admin/exams").get_data(as_text=True)
    assert f'id="board-{exam_id}"' in page
    url = f"/admin/exams/{exam_id}/board"
    refused = admin.post(url, data={"enabled": "1", "fields": ["name"], "reason": " "})
    assert refused.status_code == 302  # flashed, nothing written
    with app.app_context():
        assert not db.session.get(Exam, exam_id).board_enabled
    saved = admin.post(
        url,
        data={"enabled": "1", "fields": ["seat", "total"], "reason": "keluarga menunggu di aula"},
        follow_redirects=True,
    )
    assert "papan skor aktif" in saved.get_data(as_text=True)  # the admin's language: id
    with app.app_context():
        (event,) = (
            db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "board_configured"))
            .scalars()
            .all()
        )
        assert event.reason == "keluarga menunggu di aula" and event.actor.startswith("user:")
    sock = socketio.test_client(app, namespace="/board")
    ack = sock.emit("watch", {"sitting": sitting_with_answers}, namespace="/board", callback=True)
    assert ack["fields"] == ["seat", "total"]
    assert ack["rows"][0] == {"seat": "PC-01", "total": 10, "status": "finished"}
    html = app.test_client().get(f"/board/{sitting_with_answers}").get_data(as_text=True)
    assert "Peserta 1" not in html
    admin.post(url, data={"fields": ["seat"], "reason": "sesi selesai"})  # unchecked: off
    assert app.test_client().get(f"/board/{sitting_with_answers}").status_code == 404


def test_a_running_attempt_shows_no_score_however_its_answers_change(app):
    """Issue 16: flipping a navigable answer between right and wrong must not move the board."""
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=3)
        exam = db.session.get(Sitting, sitting_id).exam
        exam.sections[0].navigable = True
        exam.board_enabled = True
        exam.board_fields = ["registration_no", "sections", "total", "passed"]
        db.session.commit()
        from cat_server.exam import attempts

        attempts.start_sitting(sitting_id, "test")
    client = app.test_client()
    login_candidate(client, sitting_id, "20260001")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = sock.emit("sync", namespace="/exam", callback=True)["state"]
    first = state["items"][0]
    board_sock = socketio.test_client(app, namespace="/board")
    seen = []
    for choice in "ABAB":  # item 1 is keyed A: right, wrong, right, wrong
        ack = sock.emit(
            "answer",
            {
                "attempt": state["attempt"],
                "seq": first["seq"],
                "item": first["item"]["id"],
                "choice": choice,
            },
            namespace="/exam",
            callback=True,
        )
        assert ack["ok"], ack
        assert "score" not in str(ack["state"]) and "correct" not in str(ack["state"])
        snapshot = board_sock.emit(
            "watch", {"sitting": sitting_id}, namespace="/board", callback=True
        )
        seen.append(snapshot["rows"])
    assert seen[0] == [
        {
            "registration_no": "20****01",
            "sections": None,
            "total": None,
            "passed": None,
            "status": "in_progress",
        }
    ]
    assert all(rows == seen[0] for rows in seen)
