"""Group commit (cat_server/txn.py): answers share a SQLite commit, each acked only after it.

The writer runs here in threading mode (GROUP_COMMIT forced on); under gunicorn
it runs on gevent (tests/test_live_server.py, tests/reliability/ use that path).
"""

import threading

import pytest
import sqlalchemy as sa

from cat_server import create_app, txn
from cat_server.admin.scores import verify_chains
from cat_server.errors import ExamError
from cat_server.exam import answers, attempts, payloads, views
from cat_server.extensions import db
from cat_server.models import Attempt, AuditEvent, Response

from .conftest import PIN, make_config, make_sitting


@pytest.fixture
def app(tmp_path):
    app = create_app(make_config(f"sqlite:///{tmp_path / 'gc.db'}", GROUP_COMMIT="on"))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _started_attempts(app, n, n_items=12):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=n, n_items=n_items)
        ids = [attempts.login_candidate(sitting_id, f"2026{i + 1:04d}", PIN).id for i in range(n)]
        attempts.start_sitting(sitting_id, "test")
        db.session.remove()
    return ids


def _answer(app, attempt_id, seq, item, choice="A"):
    """One answer through the writer, as the socket handler sends it."""
    with app.app_context():
        return txn.run(
            answers.record_answer,
            attempt_id,
            payloads.AnswerIn.parse(
                {"attempt": attempt_id, "seq": seq, "item": item, "choice": choice}
            ),
        )


def _first_item(app, attempt_id):
    with app.app_context():
        state = views.attempt_state(db.session.get(Attempt, attempt_id))
        db.session.remove()
    return state["seq"], state["item"]["id"]


def answer_at_once_and_check(app, n_candidates=8, answers=5):
    """``n_candidates`` candidates answer at once through txn.run, a stale item between
    any two answers; then every good answer is acked and stored once, every stale one
    rejected, and the writer's batches carried several answers."""
    ids = _started_attempts(app, n_candidates)
    acks: dict[int, list] = {a: [] for a in ids}
    rejected: dict[int, list] = {a: [] for a in ids}

    def candidate(attempt_id):
        seq, item = _first_item(app, attempt_id)
        for _ in range(answers):
            try:  # a stale item id in between: rejected, changes nothing
                _answer(app, attempt_id, seq, item + 1000)
            except ExamError as error:
                rejected[attempt_id].append(error.code)
            ack = _answer(app, attempt_id, seq, item)
            acks[attempt_id].append(ack)
            seq, item = ack["state"]["seq"], ack["state"]["item"]["id"]

    gate = threading.Barrier(len(ids))
    threads = [threading.Thread(target=lambda a=a: (gate.wait(), candidate(a))) for a in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stats = txn.stats(app)
    assert stats["jobs"] == n_candidates * 2 * answers
    assert stats["batches"] < stats["jobs"], stats  # some batches carried several answers
    with app.app_context():
        for attempt_id in ids:
            assert [a["ok"] for a in acks[attempt_id]] == [True] * answers
            assert rejected[attempt_id] == ["wrong_seq"] * answers
            rows = (
                db.session.execute(
                    sa.select(Response.seq)
                    .where(Response.attempt_id == attempt_id)
                    .order_by(Response.n)
                )
                .scalars()
                .all()
            )
            assert rows == list(range(1, answers + 1))
            attempt = db.session.get(Attempt, attempt_id)
            assert (attempt.n_answered, attempt.next_seq) == (answers, answers + 1)
        assert verify_chains() == (n_candidates, n_candidates * answers, [])


def test_concurrent_answers_share_commits_and_each_is_stored_once(app):
    answer_at_once_and_check(app)


def test_a_failed_batch_acks_nobody_and_a_resend_is_stored_once(app):
    [b] = _started_attempts(app, 1)
    seq_b, item_b = _first_item(app, b)
    release = threading.Event()
    results = {}

    def submit(name, fn, *args):
        with app.app_context():
            try:
                results[name] = ("ok", txn.run(fn, *args))
            except Exception as error:  # noqa: BLE001 - the test reads which one
                results[name] = ("error", type(error).__name__)

    def broken_job():  # a database error in the batch, after b's answer was applied
        db.session.execute(sa.text("INSERT INTO no_such_table VALUES (1)"))

    answer = payloads.AnswerIn.parse({"attempt": b, "seq": seq_b, "item": item_b, "choice": "A"})
    threads = [threading.Thread(target=submit, args=("blocker", release.wait, 30))]
    threads[0].start()  # the writer is busy with it while the next two queue up
    threading.Event().wait(0.2)
    threads.append(threading.Thread(target=submit, args=("b", answers.record_answer, b, answer)))
    threads[1].start()
    threading.Event().wait(0.2)
    threads.append(threading.Thread(target=submit, args=("broken", broken_job)))
    threads[2].start()
    threading.Event().wait(0.2)
    release.set()
    for t in threads:
        t.join(30)
    assert results["blocker"] == ("ok", True)
    assert results["broken"] == ("error", "OperationalError")
    assert results["b"] == ("error", "OperationalError")  # no ack: its batch rolled back
    assert txn.stats(app)["largest"] == 2
    with app.app_context():
        assert _responses(b) == 0
        assert db.session.get(Attempt, b).n_answered == 0
    # the client re-sends the same seq: stored once, acked; again: a repeat
    ack = _answer(app, b, seq_b, item_b)
    assert ack["ok"] and not ack.get("repeat")
    assert _answer(app, b, seq_b, item_b)["repeat"] is True
    with app.app_context():
        assert _responses(b) == 1


def _responses(attempt_id):
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Response).where(Response.attempt_id == attempt_id)
    ).scalar()


def test_a_rejected_job_is_undone_even_after_it_wrote(app):
    """A job that changed rows and then raised leaves nothing; the next job in the batch stands."""
    [a] = _started_attempts(app, 1)
    seq, item = _first_item(app, a)

    def writes_then_rejects():
        attempt = db.session.get(Attempt, a)
        attempt.n_focus_lost += 7  # flushed below, then rolled back
        db.session.flush()
        db.session.add(AuditEvent(actor="test", action="half_written", attempt_id=a))
        raise ExamError("nope", "nope")

    answer = payloads.AnswerIn.parse({"attempt": a, "seq": seq, "item": item, "choice": "A"})
    results = _in_one_batch(
        app, ("bad", writes_then_rejects), ("answer", answers.record_answer, a, answer)
    )
    assert results["bad"][0] == "rejected"
    assert results["answer"][0] == "ok" and results["answer"][1]["ok"]
    with app.app_context():
        attempt = db.session.get(Attempt, a)
        assert (attempt.n_focus_lost, attempt.n_answered) == (0, 1)
        assert (
            db.session.execute(
                sa.select(sa.func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "half_written")
            ).scalar()
            == 0
        )
        assert _responses(a) == 1


def _in_one_batch(app, *calls):
    """Run ``(name, fn, *args)`` calls through txn.run queued behind a blocker, so the
    writer takes them as one batch in this order; ``{name: ("ok", result) or
    ("rejected", code)}``."""
    release = threading.Event()
    results = {}

    def submit(name, fn, *args):
        with app.app_context():
            try:
                results[name] = ("ok", txn.run(fn, *args))
            except ExamError as error:
                results[name] = ("rejected", error.code)

    threads = [threading.Thread(target=submit, args=("blocker", release.wait, 30))]
    threads += [threading.Thread(target=submit, args=call) for call in calls]
    for t in threads:
        t.start()
        threading.Event().wait(0.2)
    release.set()
    for t in threads:
        t.join(30)
    assert txn.stats(app)["largest"] == len(calls)
    return results


def test_an_answer_sent_twice_in_one_batch_is_stored_once(app):
    """The batch keeps answers' writes for one executemany; a resend of the same answer
    in the same batch must still see the first one and get a repeat, not a second row."""
    [a] = _started_attempts(app, 1)
    seq, item = _first_item(app, a)
    answer = payloads.AnswerIn.parse({"attempt": a, "seq": seq, "item": item, "choice": "B"})
    results = _in_one_batch(
        app,
        ("first", answers.record_answer, a, answer),
        ("resend", answers.record_answer, a, answer),
    )
    assert results["first"][1]["ok"] and not results["first"][1].get("repeat")
    assert results["resend"][1]["repeat"] is True
    with app.app_context():
        assert _responses(a) == 1
        assert db.session.get(Attempt, a).n_answered == 1


def test_a_job_after_an_answer_in_the_same_batch_sees_it_and_its_undo_keeps_it(app):
    """Answers' writes wait; a job that is not an answer reads them, and rolling that
    job back leaves the earlier answer stored and acked."""
    [a, b] = _started_attempts(app, 2)
    seq_a, item_a = _first_item(app, a)
    seq_b, item_b = _first_item(app, b)
    seen = {}

    def reads_then_rejects():
        seen["responses"] = _responses(a)
        db.session.get(Attempt, b).n_focus_lost += 3
        db.session.flush()
        raise ExamError("nope", "nope")

    results = _in_one_batch(
        app,
        (
            "a",
            answers.record_answer,
            a,
            payloads.AnswerIn.parse({"attempt": a, "seq": seq_a, "item": item_a, "choice": "A"}),
        ),
        ("bad", reads_then_rejects),
        (
            "b",
            answers.record_answer,
            b,
            payloads.AnswerIn.parse({"attempt": b, "seq": seq_b, "item": item_b, "choice": "C"}),
        ),
    )
    assert seen["responses"] == 1
    assert results["bad"][0] == "rejected"
    assert results["a"][1]["ok"] and results["b"][1]["ok"]
    with app.app_context():
        assert (_responses(a), _responses(b)) == (1, 1)
        assert [db.session.get(Attempt, x).n_answered for x in (a, b)] == [1, 1]
        assert db.session.get(Attempt, b).n_focus_lost == 0
        assert verify_chains() == (2, 2, [])


def test_a_batch_reads_its_answers_attempts_together_and_a_job_between_them_is_seen(app):
    """Consecutive answers' attempts are read in one go (two statements, not one per
    answer); a job that is not an answer ends that run, so an attempt it changed is
    read again after it: here it finished b, whose answer is then refused."""
    a, b, c, d = _started_attempts(app, 4)
    first = {x: _first_item(app, x) for x in (a, b, c, d)}
    reads = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM attempt" in statement:
            reads.append(statement)

    def finishes_b():  # a plain UPDATE, which the session's objects know nothing about
        table = Attempt.__table__
        db.session.execute(table.update().where(table.c.id == b).values(status="finished"))
        txn.commit()

    def answer(x):
        return payloads.AnswerIn.parse(
            {"attempt": x, "seq": first[x][0], "item": first[x][1], "choice": "A"}
        )

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        results = _in_one_batch(
            app,
            ("a", answers.record_answer, a, answer(a)),
            ("c", answers.record_answer, c, answer(c)),
            ("d", answers.record_answer, d, answer(d)),
            ("finish b", finishes_b),
            ("b", answers.record_answer, b, answer(b)),
        )
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", count)
    assert [results[x][1]["ok"] for x in ("a", "c", "d")] == [True] * 3
    assert results["b"] == ("rejected", "not_in_progress")
    assert len(reads) == 2, reads  # a, c, d together; then b on its own, after the job
    with app.app_context():
        assert [_responses(x) for x in (a, b, c, d)] == [1, 0, 1, 1]


def test_an_answer_of_an_ended_session_is_refused_in_a_batch_and_the_others_stand(app):
    """The cookie's token is checked on the row the batch read (exam/sessions.py): the
    old cookie's answer is refused and changes nothing; the batch's other answers, the
    same attempt's new session among them, are stored."""
    a, b = _started_attempts(app, 2)
    with app.app_context():
        token = {x: db.session.get(Attempt, x).session_token for x in (a, b)}

    def answer(x):
        seq, item = _first_item(app, x)
        return payloads.AnswerIn.parse({"attempt": x, "seq": seq, "item": item, "choice": "A"})

    results = _in_one_batch(
        app,
        ("old cookie", answers.record_answer, a, answer(a), "an-ended-token"),
        ("b", answers.record_answer, b, answer(b), token[b]),
        ("a", answers.record_answer, a, answer(a), token[a]),
    )
    assert results["old cookie"] == ("rejected", "session_ended")
    assert results["b"][1]["ok"] and results["a"][1]["ok"]
    assert not results["a"][1].get("repeat")
    with app.app_context():
        assert (_responses(a), _responses(b)) == (1, 1)
