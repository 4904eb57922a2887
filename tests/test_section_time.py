"""Per-section time limits: the server owns each section's clock as it owns the exam's."""

from datetime import timedelta

import pytest

from cat_server.admin import sittings as admin_sittings
from cat_server.admin.sittings import FormProblems
from cat_server.exam import attempts, clock
from cat_server.extensions import db
from cat_server.models import Attempt, AuditEvent, Heartbeat, ItemBank, Response, Sitting, utcnow
from cat_server.proctor import interventions
from tests.conftest import last_event
from tests.test_sections import SKD_ITEMS, build_sitting, connect, emit

# TWK: 10 minutes of its own; TKP: 30, more than the exam's 20 left: capped by the exam
TIMED_SECTIONS = [
    dict(code="TWK", name="Tes Wawasan Kebangsaan", n_items=3, navigable=True, time_limit_min=10),
    dict(
        code="TKP", name="Tes Karakteristik Pribadi", n_items=2, navigable=True, time_limit_min=30
    ),
]
# statements of one proctor snapshot (sitting, seats, last answers, moves, status
# counts, enrolled, exam), whatever the number of seats: the feed's cost per flush
SNAPSHOT_STATEMENTS = 7


def timed_sitting(app, **kwargs):
    with app.app_context():
        return build_sitting(TIMED_SECTIONS, SKD_ITEMS, duration_s=20 * 60, **kwargs)


def the_attempt() -> Attempt:
    return db.session.query(Attempt).order_by(Attempt.id).first()


def responses() -> int:
    return db.session.query(Response).count()


def test_the_server_moves_on_when_a_section_time_is_up(app):
    sitting_id = timed_sitting(app)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    assert state["section"]["code"] == "TWK"
    assert state["section_remaining_s"] == pytest.approx(600, abs=2)
    assert state["remaining_s"] == pytest.approx(1200, abs=2)
    items = {e["seq"]: e["item"] for e in state["items"]}
    attempt_id = state["attempt"]
    assert emit(sock, "answer", attempt=attempt_id, seq=1, item=items[1]["id"], choice="A")["ok"]

    with app.app_context():
        section_deadline = the_attempt().section_deadline_at
        # a minute before: nothing moves
        assert clock.finish_expired(now=section_deadline - timedelta(seconds=60)) == []
        sock.get_received("/exam")
        moved_at = section_deadline + timedelta(seconds=1)
        assert clock.finish_expired(now=moved_at) == [attempt_id]
        attempt = the_attempt()
        assert attempt.status == "in_progress" and attempt.section_index == 2
        # TKP's 30 minutes are capped by the exam's deadline
        assert attempt.section_deadline_at == attempt.deadline_at
        audit = db.session.query(AuditEvent).filter_by(action="section_time_up").one()
        assert audit.actor == "server" and audit.data["section"] == "TWK"

    pushed = last_event(sock, "state", "/exam")  # the page moves on without asking
    assert pushed["section"]["code"] == "TKP" and pushed["full"]
    assert [s["status"] for s in pushed["sections"]] == ["done", "current"]
    assert pushed["section_remaining_s"] == pytest.approx(pushed["remaining_s"], abs=0.2)

    late = emit(sock, "answer", attempt=attempt_id, seq=2, item=items[2]["id"], choice="B")
    assert late["ok"] is False and late["error"] == "section_over"
    with app.app_context():
        assert responses() == 1  # the late TWK answer was not stored
        # the last section's end finishes the attempt
        finished = clock.finish_expired(now=the_attempt().deadline_at + timedelta(seconds=1))
        assert finished == [attempt_id]
        attempt = the_attempt()
        assert attempt.status == "finished" and attempt.finish_reason == "time_up"
        assert attempt.section_deadline_at is None


def test_an_answer_after_the_section_deadline_is_refused_before_the_reaper_runs(app):
    sitting_id = timed_sitting(app)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    items = {e["seq"]: e["item"] for e in state["items"]}
    with app.app_context():
        attempt = the_attempt()
        attempt.section_deadline_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    late = emit(sock, "answer", attempt=state["attempt"], seq=1, item=items[1]["id"], choice="A")
    assert late["ok"] is False and late["error"] == "section_time_up"
    assert "section" in late["message_en"].lower()
    assert late["state"]["section"]["code"] == "TKP"  # the next section has begun
    with app.app_context():
        assert responses() == 0
        attempt = the_attempt()
        assert attempt.section_index == 2 and attempt.status == "in_progress"


def test_the_last_timed_section_ends_the_attempt(app):
    with app.app_context():
        sitting_id = build_sitting(TIMED_SECTIONS[:1], SKD_ITEMS, duration_s=20 * 60)
    _, sock = connect(app, sitting_id)
    with app.app_context():
        deadline = the_attempt().section_deadline_at
        assert clock.finish_expired(now=deadline + timedelta(seconds=1)) == [the_attempt().id]
        attempt = the_attempt()
        assert attempt.status == "finished" and attempt.finish_reason == "time_up"
    assert last_event(sock, "state", "/exam")["status"] == "finished"


def test_pause_extend_and_downtime_move_the_section_deadline(app):
    sitting_id = timed_sitting(app)
    connect(app, sitting_id)
    with app.app_context():
        attempt = the_attempt()
        exam_at, section_at = attempt.deadline_at, attempt.section_deadline_at
        attempt_id = attempt.id

        def moved():
            db.session.expire_all()
            a = db.session.get(Attempt, attempt_id)
            return (
                (a.deadline_at - exam_at).total_seconds(),
                (a.section_deadline_at - section_at).total_seconds(),
            )

        interventions.pause_attempt(attempt_id, "user:1", "listrik padam")
        attempt = db.session.get(Attempt, attempt_id)
        attempt.paused_at -= timedelta(seconds=90)  # as if paused for a minute and a half
        db.session.commit()
        # a paused clock stands still: no section ends while paused
        assert clock.finish_expired(now=section_at + timedelta(seconds=30)) == []
        interventions.resume_attempt(attempt_id, "user:1", "listrik menyala")
        exam_moved, section_moved = moved()
        assert exam_moved == pytest.approx(90, abs=2) and section_moved == exam_moved

        interventions.extend_attempt(attempt_id, 5, "user:1", "komputer diganti")
        exam_moved, section_moved = moved()
        assert exam_moved == pytest.approx(390, abs=2) and section_moved == exam_moved

        now = utcnow()
        db.session.add(Heartbeat(name="server", beat_at=now - timedelta(seconds=60)))
        db.session.commit()
        assert clock.credit_downtime(now=now) == pytest.approx(60, abs=0.5)
        exam_moved, section_moved = moved()
        assert exam_moved == pytest.approx(450, abs=2) and section_moved == exam_moved


def test_the_section_clock_starts_with_the_sitting(app):
    with app.app_context():
        sitting_id = timed_sitting(app)
        sitting = db.session.get(Sitting, sitting_id)
        sitting.status, sitting.started_at = "open", None
        db.session.commit()
    client, _ = connect(app, sitting_id)
    waiting_room = client.get(f"/exam/{sitting_id}/take").get_data(as_text=True)
    assert "20 menit" in waiting_room  # the exam's time ...
    assert "3 soal, bebas pindah soal · 10 menit" in waiting_room  # ... and TWK's own
    # free navigation only: its keys, Enter moves on
    assert "pindah soal</li>" in waiting_room and "<kbd>Enter</kbd> soal berikutnya" in waiting_room
    with app.app_context():
        attempt = the_attempt()
        assert attempt.status == "waiting" and attempt.section_deadline_at is None
        attempts.start_sitting(sitting_id, "user:1")
        attempt = the_attempt()
        left = (attempt.section_deadline_at - attempt.started_at).total_seconds()
        assert left == 600


def test_the_exam_form_takes_section_minutes(app):
    with app.app_context():
        timed_sitting(app)
        bank_id = db.session.query(ItemBank).one().id
        exam = admin_sittings.create_exam(
            "Ujian berwaktu",
            bank_id,
            20,
            "TWK, Tes Wawasan Kebangsaan, 3, 10, 8\nTKP, Tes Karakteristik Pribadi, 2, 6",
            None,
            "user:1",
        )
        assert [s.time_limit_min for s in exam.sections] == [8, None]
        for bad, words in (
            ("TWK, Tes, 3, 10, 0", "menit paling sedikit 1"),
            ("TWK, Tes, 3, 10, lima", "bilangan bulat"),
            ("TWK, Tes, 3, 10, 25", "melebihi waktu ujian 20"),
        ):
            with pytest.raises(FormProblems) as error:
                admin_sittings.create_exam("Ujian", bank_id, 20, bad, None, "user:1")
            assert words in str(error.value), bad


def test_the_proctor_feed_carries_each_seats_section_clock(app):
    """A seat in a timed section: which section, its time and the exam's, moved by pause/extend."""
    from sqlalchemy import event

    from cat_server.extensions import socketio
    from cat_server.proctor import feed
    from cat_server.proctor import service as proctor_service
    from tests.conftest import login_staff, make_user

    sitting_id = timed_sitting(app, n_candidates=3)
    connect(app, sitting_id)  # R1 at PC-01 answers; PC-02 and PC-03 stay absent
    with app.app_context():
        make_user(role="admin")
        attempt_id = the_attempt().id
    client = app.test_client()
    assert login_staff(client).status_code == 302
    proctor = socketio.test_client(app, namespace="/proctor", flask_test_client=client)

    def watched():
        ack = proctor.emit("watch", {"sitting": sitting_id}, namespace="/proctor", callback=True)
        assert ack["ok"]
        return {s["seat"]: s for s in ack["seats"]}

    def flushed():
        """The seats of the one `seats` message the next flush sends."""
        proctor.get_received("/proctor")
        with app.app_context():
            app.config["FEED_INTERVAL"] = 0  # no pacing in a test
            assert feed.flush() == 1
        (message,) = [
            e["args"][0] for e in proctor.get_received("/proctor") if e["name"] == "seats"
        ]
        return {s["seat"]: s for s in message["seats"]}

    seats = watched()
    seat = seats["PC-01"]
    assert seat["section"] == {
        "index": 1,
        "count": 2,
        "code": "TWK",
        "name": "Tes Wawasan Kebangsaan",
    }
    assert seat["section_remaining_s"] == pytest.approx(600, abs=10)
    assert seat["remaining_s"] == pytest.approx(1200, abs=10)
    assert seat["remaining_s"] - seat["section_remaining_s"] == pytest.approx(600, abs=0.2)
    assert seats["PC-02"]["section"] is None and seats["PC-02"]["section_remaining_s"] is None

    with app.app_context():
        interventions.pause_attempt(attempt_id, "user:1", "listrik padam")
        attempt = db.session.get(Attempt, attempt_id)
        attempt.paused_at -= timedelta(seconds=90)  # paused a minute and a half ago
        db.session.commit()
    seat = flushed()["PC-01"]
    assert seat["status"] == "paused"  # both clocks stand at what was left at the pause
    paused = seat
    assert seat["section_remaining_s"] == pytest.approx(690, abs=10)
    assert seat["remaining_s"] == pytest.approx(1290, abs=10)

    with app.app_context():
        interventions.resume_attempt(attempt_id, "user:1", "listrik menyala")
        interventions.extend_attempt(attempt_id, 5, "user:1", "komputer diganti")
    seat = flushed()["PC-01"]
    assert seat["status"] == "answering"
    # the paused time came back to both clocks, and the 5 minutes went to both
    assert seat["section_remaining_s"] == pytest.approx(690 + 300, abs=10)
    assert seat["remaining_s"] == pytest.approx(1290 + 300, abs=10)
    for left in ("remaining_s", "section_remaining_s"):  # the resume ran within seconds
        assert seat[left] - paused[left] == pytest.approx(300, abs=5)

    with app.app_context():  # TWK's time is up: TKP's 30 minutes are capped by the exam's
        section_at = db.session.get(Attempt, attempt_id).section_deadline_at
        assert clock.finish_expired(now=section_at + timedelta(seconds=1)) == [attempt_id]
    seat = flushed()["PC-01"]
    assert seat["section"]["code"] == "TKP" and seat["section"]["index"] == 2
    assert seat["section_remaining_s"] == seat["remaining_s"]

    # the section lookup costs no query: a snapshot of 1 or 3 seats runs the same statements
    def statements(candidate_ids):
        seen = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        with app.app_context():
            engine = db.engine
            event.listen(engine, "before_cursor_execute", count)
            try:
                proctor_service.sitting_snapshot(sitting_id, candidate_ids)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    with app.app_context():
        everyone = [
            c
            for (c,) in db.session.execute(
                db.text("SELECT id FROM candidate WHERE sitting_id = :s"), {"s": sitting_id}
            )
        ]
        one = db.session.get(Attempt, attempt_id).candidate_id
    assert statements([one]) == statements(everyone) == statements(None) == SNAPSHOT_STATEMENTS
    proctor.disconnect(namespace="/proctor")


def test_a_closed_sections_counts_come_in_full_states_for_the_last_review(app):
    """docs/protocol.md: a done section carries items, answered, marked (issue 19, defect 5)."""
    sitting_id = timed_sitting(app)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    items = {e["seq"]: e["item"] for e in state["items"]}
    attempt_id = state["attempt"]
    assert emit(sock, "answer", attempt=attempt_id, seq=1, item=items[1]["id"], choice="A")["ok"]
    assert emit(sock, "mark", attempt=attempt_id, seq=2, marked=True)["ok"]
    with app.app_context():
        sock.get_received("/exam")
        assert clock.finish_expired(now=the_attempt().section_deadline_at + timedelta(seconds=1))
    pushed = last_event(sock, "state", "/exam")  # TWK closed by its clock, 2 of 3 blank
    twk, tkp = pushed["sections"]
    assert (twk["status"], twk["items"], twk["answered"], twk["marked"]) == ("done", 3, 1, 1)
    assert "answered" not in tkp  # the current section's counts come from its answer sheet
    first = pushed["items"][0]
    ack = emit(
        sock, "answer", attempt=attempt_id, seq=first["seq"], item=first["item"]["id"], choice="B"
    )
    assert ack["ok"] and not ack["state"]["full"]
    assert "answered" not in ack["state"]["sections"][0]  # never changes: full states only
