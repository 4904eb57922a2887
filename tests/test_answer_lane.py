"""The answer lane (cat_server/txn.py, PostgreSQL): answers batched in one transaction.

The writer runs here in threading mode (GROUP_COMMIT forced on); under gunicorn
it runs on gevent (the live-server, crash and database-restart tests on
PostgreSQL use that path).
"""

import threading
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from cat_server import create_app, txn
from cat_server.admin.scores import verify_chains
from cat_server.errors import ExamError
from cat_server.exam import answers, catalog, clock, payloads
from cat_server.extensions import db
from cat_server.models import Attempt, Item, Response

from .conftest import make_config
from .test_group_commit import _answer, _first_item, _started_attempts, answer_at_once_and_check


@pytest.fixture
def app(pg_url):
    app = create_app(make_config(pg_url, GROUP_COMMIT="on"))
    assert txn.lane_enabled(app)
    with app.app_context():
        db.create_all()
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _responses(app, attempt_id):
    with app.app_context():
        return (
            db.session.execute(
                sa.select(Response.seq)
                .where(Response.attempt_id == attempt_id)
                .order_by(Response.n)
            )
            .scalars()
            .all()
        )


class _RowLock:
    """Another session holding one attempt's row lock: the lane's next batch waits on it,
    and the answers arriving meanwhile gather into the batch after."""

    def __init__(self, pg_url, attempt_id):
        self.conn = psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"))
        self.conn.execute("SELECT id FROM attempt WHERE id = %s FOR UPDATE", (attempt_id,))

    def release(self):
        self.conn.rollback()
        self.conn.close()


def _submit(app, results, name, attempt_id, seq, item):
    try:
        results[name] = ("ok", _answer(app, attempt_id, seq, item))
    except ExamError as error:
        results[name] = ("rejected", error.code)
    except Exception as error:  # noqa: BLE001 - the test reads which one
        results[name] = ("error", type(error).__name__)


def _gathered(app, pg_url, blocker, submissions, results):
    """``blocker``'s answer holds the writer at its row lock while ``submissions`` queue;
    then all of them run, the submissions in one batch."""
    lock = _RowLock(pg_url, blocker[0])
    first = threading.Thread(target=_submit, args=(app, results, "blocker", *blocker))
    first.start()
    threading.Event().wait(0.3)
    threads = [threading.Thread(target=_submit, args=(app, results, *s)) for s in submissions]
    for t in threads:
        t.start()
    threading.Event().wait(0.5)
    lock.release()
    for t in [first, *threads]:
        t.join(30)


def test_concurrent_answers_share_batches_and_each_is_stored_once(app):
    answer_at_once_and_check(app)


def test_what_the_lane_cannot_batch_runs_on_its_own(app, pg_url):
    """A section's last item, and a second answer of one attempt in a batch, are bounced
    before they change anything, then stored as without the lane."""
    a, b = _started_attempts(app, 2, n_items=2)
    seq_a, item_a = _first_item(app, a)
    seq_b, item_b = _first_item(app, b)
    ack = _answer(app, b, seq_b, item_b)  # b now at its last item
    last_b = (ack["state"]["seq"], ack["state"]["item"]["id"])
    results = {}
    # a's answer twice in one batch (a resend): the second runs after it, as a repeat
    _gathered(
        app,
        pg_url,
        (a, seq_a, item_a),
        [("a again", a, seq_a, item_a), ("b last", b, *last_b)],
        results,
    )
    assert results["blocker"][0] == "ok" and not results["blocker"][1].get("repeat")
    assert results["a again"][0] == "ok" and results["a again"][1]["repeat"] is True
    assert results["b last"][0] == "ok"
    assert results["b last"][1]["state"]["status"] == "finished"
    assert _responses(app, a) == [1]
    assert _responses(app, b) == [1, 2]
    with app.app_context():
        assert db.session.get(Attempt, b).status == "finished"
        assert verify_chains()[2] == []


def test_a_failed_batch_acks_nobody_and_a_resend_is_stored_once(app, pg_url):
    x, a, b = _started_attempts(app, 3)
    first = {attempt: _first_item(app, attempt) for attempt in (x, a, b)}
    # a's first response row is already there: the batch's INSERT of it fails at the database
    with app.app_context():
        db.session.execute(
            Response.__table__.insert(),
            [
                dict(
                    attempt_id=a,
                    n=1,
                    seq=1,
                    item_id=first[a][1],
                    choice="B",
                    score=0,
                    answered_at=clock.utcnow(),
                    prev_hash="x",
                    hash="y",
                )
            ],
        )
        db.session.commit()
    results = {}
    _gathered(app, pg_url, (x, *first[x]), [("a", a, *first[a]), ("b", b, *first[b])], results)
    assert results["blocker"][0] == "ok"
    assert results["a"] == ("error", "IntegrityError")
    assert results["b"] == ("error", "IntegrityError")  # no ack: its batch rolled back
    assert _responses(app, b) == []
    with app.app_context():
        assert db.session.get(Attempt, b).n_answered == 0
    # the client re-sends the same seq: stored once, acked; again: a repeat
    ack = _answer(app, b, *first[b])
    assert ack["ok"] and not ack.get("repeat")
    assert _answer(app, b, *first[b])["repeat"] is True
    assert _responses(app, b) == [1]


def test_a_batch_waits_for_the_database_twice_whatever_its_size(app, pg_url, tmp_path):
    """BEGIN leaves with the lock statement, the writes with COMMIT: two round trips a
    batch (psycopg on its own sends BEGIN and COMMIT as round trips of their own: four).
    Counted in libpq's own trace of the messages each connection sent: a Sync or a
    simple Query ends a round trip."""
    from psycopg import pq

    traces = {}

    def trace(dbapi_connection, record, proxy):
        if id(dbapi_connection) not in traces:
            out = traces[id(dbapi_connection)] = (tmp_path / f"{len(traces)}.trace").open("w")
            dbapi_connection.pgconn.trace(out.fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    x, a, b, c = _started_attempts(app, 4)
    first = {attempt: _first_item(app, attempt) for attempt in (x, a, b, c)}
    with app.app_context():
        for item_id in db.session.execute(sa.select(Item.id)).scalars():
            catalog.cached_item(item_id)  # as in a running centre: read once per process
        sa.event.listen(db.engine, "checkout", trace)
    results = {}
    try:
        _gathered(app, pg_url, (x, *first[x]), [(str(n), n, *first[n]) for n in (a, b, c)], results)
        with app.app_context():  # the lane's autocommit never stays on a pooled connection
            idle = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin())]
            assert idle and not any(raw.driver_connection.autocommit for raw in idle)
            for raw in idle:
                raw.close()
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "checkout", trace)
            db.engine.dispose()  # each connection's trace ends with it
        for out in traces.values():
            out.close()
    assert [results[k][0] for k in ("blocker", str(a), str(b), str(c))] == ["ok"] * 4
    assert txn.stats(app)["largest"] == 3
    batches = []
    for path in tmp_path.glob("*.trace"):
        for line in path.read_text().splitlines():  # a statement's text may span lines
            direction, _, message = (line.split("\t") + ["", ""])[:3]
            if direction == "F" and '"BEGIN"' in line:
                batches.append({"round_trips": int(message == "Query"), "locks": 0})
            elif batches and direction == "F" and message in ("Sync", "Query"):
                batches[-1]["round_trips"] += 1  # the end of a pipeline, or a simple query
            elif batches and "FOR UPDATE OF attempt" in line:
                batches[-1]["locks"] += 1
    lane_batches = [batch for batch in batches if batch["locks"]]
    assert len(lane_batches) == 2, batches  # the blocker's, then the other three together
    assert [batch["round_trips"] for batch in lane_batches] == [2, 2], batches


def test_a_batch_on_a_dropped_connection_answers_retry_and_the_next_goes_through(app, pg_url):
    """The database dropped the pooled connections (a restart, say; no pre-ping): the
    batch that meets a dead one fails as a database error, which the socket layer
    answers with ``retry``, not with a confusing error that never acks; the re-sent
    answer is then stored once."""
    x, a = _started_attempts(app, 2)
    first = {attempt: _first_item(app, attempt) for attempt in (x, a)}
    assert _answer(app, x, *first[x])["ok"]  # the lane's connection is in the pool now
    with psycopg.connect(
        pg_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    results = {}
    _submit(app, results, "a", a, *first[a])
    assert results["a"] == ("error", "OperationalError")
    _submit(app, results, "again", a, *first[a])
    assert results["again"][0] == "ok" and not results["again"][1].get("repeat")
    assert _responses(app, a) == [1]


def test_a_deadline_passing_inside_a_batch_ends_the_section_on_its_own(app, monkeypatch):
    """The section's time runs out between the lane's check and the answer's own: the
    answer leaves the batch (it would end the section with writes the batch does not
    carry) and runs on its own, so what the candidate is told is what is stored."""
    [a] = _started_attempts(app, 1)
    seq, item = _first_item(app, a)
    with app.app_context():
        db.session.get(Attempt, a).section_deadline_at = clock.utcnow() + timedelta(seconds=60)
        db.session.commit()
    real_now, offset = clock.utcnow, {"s": 0}
    monkeypatch.setattr(clock, "utcnow", lambda: real_now() + timedelta(seconds=offset["s"]))
    fits = answers._fits_the_lane

    def then_the_clock_moves(*args):
        answer_fits = fits(*args)
        offset["s"] = 120  # the section's deadline passes right after the lane looked
        return answer_fits

    monkeypatch.setattr(answers, "_fits_the_lane", then_the_clock_moves)
    with pytest.raises(ExamError) as refused:
        _answer(app, a, seq, item)
    assert refused.value.code == "section_time_up"
    told = refused.value.details["state"]["status"]
    with app.app_context():
        assert db.session.get(Attempt, a).status == told == "finished"  # its only section
    assert _responses(app, a) == []


def test_an_answer_of_an_ended_session_is_refused_inside_a_batch(app, pg_url):
    """The cookie's token is checked on the row the batch locked: the old cookie's answer
    is refused and queues nothing; the batch's other answers are stored."""
    blocker, a, b = _started_attempts(app, 3)
    first = {x: _first_item(app, x) for x in (blocker, a, b)}
    with app.app_context():
        token = {x: db.session.get(Attempt, x).session_token for x in (a, b)}
    results = {}

    def submit(name, attempt_id, token):
        seq, item = first[attempt_id]
        answer = payloads.AnswerIn.parse(
            {"attempt": attempt_id, "seq": seq, "item": item, "choice": "A"}
        )
        with app.app_context():
            try:
                results[name] = ("ok", txn.run(answers.record_answer, attempt_id, answer, token))
            except ExamError as error:
                results[name] = ("rejected", error.code)

    lock = _RowLock(pg_url, blocker)
    held = threading.Thread(
        target=_submit, args=(app, results, "blocker", blocker, *first[blocker])
    )
    held.start()
    threading.Event().wait(0.3)
    threads = [
        threading.Thread(target=submit, args=("old cookie", a, "an-ended-token")),
        threading.Thread(target=submit, args=("b", b, token[b])),
    ]
    for t in threads:
        t.start()
    threading.Event().wait(0.5)
    lock.release()
    for t in [held, *threads]:
        t.join(30)
    assert results["old cookie"] == ("rejected", "session_ended")
    assert results["b"][0] == "ok" and results["b"][1]["ok"]
    assert _responses(app, a) == [] and _responses(app, b) == [1]
    assert txn.stats(app)["largest"] >= 2  # the two answers shared a batch
