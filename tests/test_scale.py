"""Scale (issue 8): a fixed SQL budget per answer, a gevent-friendly PostgreSQL driver,
and the workstation simulator end to end against a real server."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap

import pytest
from flask.ctx import RequestContext
from sqlalchemy import event

from cat_server.extensions import db, socketio
from tests.conftest import PIN, login_candidate, make_sitting, make_user
from tests.live import ROOT, LiveServer

# Statements one answer costs on the Socket.IO path, from the handler to the
# acknowledgement (COMMIT is not a cursor statement), on both databases: the
# attempt FOR UPDATE together with the item presented at the answer's seq, INSERT
# response, INSERT the next presentation, UPDATE attempt (a Core statement of the
# changed columns). The next item is already in the per-process cache: drawing
# a fixed form walks its whole pool once for enemy groups (exam.catalog), which
# caches every item of the section (it was 5 before, a lone candidate reading
# each next item first). It must not grow with the answers already given. Lower
# it when the answer path gets leaner (docs/PERFORMANCE.md lists how); a rise
# needs a reason.
ANSWER_STATEMENTS = 4


def _statements_per_answer(app, sitting_id, n_answers):
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    with app.app_context():
        from cat_server.exam import attempts

        attempts.start_sitting(sitting_id, "test")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        statements[-1].append(
            statement.split()[0].upper()
            + (" " + statement[:90] if __import__("os").environ.get("SHOWSQL") else "")
        )

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(n_answers):
            statements.append([])
            item = state["item"]
            ack = sock.emit(
                "answer",
                {
                    "attempt": state["attempt"],
                    "seq": state["seq"],
                    "item": item["id"],
                    "choice": "A",
                },
                namespace="/exam",
                callback=True,
            )
            assert ack["ok"], ack
            state = ack["state"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
        sock.disconnect(namespace="/exam")
    return statements


def test_an_answer_costs_a_fixed_small_number_of_sql_statements(app):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=12, proctor=make_user())
    per_answer = _statements_per_answer(app, sitting_id, 8)
    # the first answer may fill the per-process caches (items, sections, forms)
    steady = [len(s) for s in per_answer[1:]]
    if __import__("os").environ.get("SHOWSQL"):
        print(*[" ".join(x.split())[:120] for x in per_answer[-1]], sep="\n")
    assert steady == [ANSWER_STATEMENTS] * len(steady), per_answer
    # one transaction: every write of an answer is in it, none after the ack
    writes = [kind for kind in per_answer[-1] if kind in ("INSERT", "UPDATE", "DELETE")]
    assert 1 <= len(writes) <= 5, per_answer[-1]


def test_an_answer_does_not_walk_the_section_pool(app, monkeypatch):
    """A fixed form is drawn when its section begins (and stored), not on every answer.

    Drawing walks the whole pool for enemy groups; on every answer that was a
    third of an answer's CPU at 150 items (docs/PERFORMANCE.md, issue 22).
    """
    from cat_server.exam import catalog

    walked = []
    real = catalog.without_enemies
    monkeypatch.setattr(
        catalog, "without_enemies", lambda ids: walked.append(len(ids)) or real(ids)
    )
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=40, proctor=make_user())
    _statements_per_answer(app, sitting_id, 10)
    # the section's length and the candidate's form: one walk each, whatever the answers
    assert len(walked) <= 2, walked


def test_socket_events_leave_no_reference_cycles_for_the_garbage_collector(app):
    """Each event's request context is freed when the event ends, not by a full collection.

    A cycle per event (the routing error a context kept with its traceback) made
    the collector's full passes, 80-130 ms with the event loop stopped, come
    several times a minute under load (docs/PERFORMANCE.md).
    """
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=12, proctor=make_user())
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage to look at
    try:
        _statements_per_answer(app, sitting_id, 6)
        gc.collect()
        contexts = [o for o in gc.garbage if isinstance(o, RequestContext)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert contexts == []


GEVENT_SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import json, os, sys, time
    import gevent
    from sqlalchemy import text
    from cat_server import create_app
    from cat_server.extensions import db

    app = create_app({"TESTING": True, "DATABASE_URL": sys.argv[1], "BACKGROUND_TASKS": False})
    t0 = time.monotonic()
    done, ticks = {}, []

    def slow():
        with app.app_context():
            db.session.execute(text("SELECT pg_sleep(1)"))
            db.session.rollback()
        done["slow"] = time.monotonic() - t0

    def fast():
        gevent.sleep(0.1)  # the slow query is already waiting in PostgreSQL
        with app.app_context():
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
        done["fast"] = time.monotonic() - t0

    def ticker():
        while time.monotonic() - t0 < 1.0:
            ticks.append(time.monotonic() - t0)
            gevent.sleep(0.05)

    gevent.joinall([gevent.spawn(slow), gevent.spawn(fast), gevent.spawn(ticker)])
    done["ticks"] = len(ticks)
    print(json.dumps(done), flush=True)
    os._exit(0)
""")


def test_a_slow_postgresql_query_does_not_block_other_greenlets(pg_url):
    # in a subprocess: monkey-patching must not leak into the test process
    result = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT, pg_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    done = json.loads(result.stdout.strip().splitlines()[-1])
    assert done["slow"] >= 1.0
    assert done["fast"] < 0.5, done  # answered while pg_sleep(1) was still running
    assert done["ticks"] >= 15, done  # the hub kept running (20 ticks of 50 ms in 1 s)


@pytest.mark.slow
def test_simulator_smoke_every_acked_answer_stored_exactly_once(app, db_url, tmp_path, request):
    with app.app_context():
        proctor = make_user("loadtest", password="loadtest-123")
        sitting_id = make_sitting(n_candidates=10, n_items=200, duration_s=3600, proctor=proctor)
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(
        "registration_no,pin\n" + "".join(f"2026{i:04d},{PIN}\n" for i in range(1, 11))
    )
    server = LiveServer(db_url, tmp_path / "server.log", RATELIMIT_ENABLED="false").start()
    report_path = tmp_path / "report.json"
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "loadtests.workstations",
                "--url",
                server.url,
                "--sitting",
                str(sitting_id),
                "--seats",
                "10",
                "--think-time",
                "0.2",
                "--duration",
                "4",
                "--report",
                str(report_path),
                "--candidates",
                str(candidates),
                "--database",
                db_url,
                "--proctor",
                "loadtest:loadtest-123",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert report_path.exists(), result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    for key in (
        "answers",
        "answers_per_s",
        "errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "acked_lost",
        "duplicates",
        "connect_p99_ms",
    ):
        assert key in report, key
    assert report["connected"] == 10 and report["start_seats"] == 10, report
    assert report["answers"] >= 50, report  # ~10 seats x 4 s / ~0.2 s each, minus the round trips
    assert report["errors"] == 0, report
    assert report["acked_lost"] == 0 and report["duplicates"] == 0, report
    assert report["stored_rows"] == report["answers"], report
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_write_refused_by_the_database_answers_retry_and_changes_nothing(app, candidate):
    """The linear path sends its writes together (one round trip on PostgreSQL, where the
    error only arrives when they are all sent): a refused INSERT must still leave the
    attempt exactly as it was, ack nothing, and the re-sent answer must be stored once."""
    from cat_server.models import Attempt, Presentation, Response

    _, sock = candidate
    with app.app_context():
        from cat_server.exam import attempts

        attempts.start_sitting(Attempt.query.one().sitting_id, "test")
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    answer = {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": "A",
    }
    with app.app_context():  # another writer took the response's number n = 1 meanwhile
        before = db.session.get(Attempt, state["attempt"])
        kept = {
            c: getattr(before, c)
            for c in (
                "next_seq",
                "n_responses",
                "n_answered",
                "n_presented",
                "total_score",
                "chain_head",
            )
        }
        db.session.add(
            Response(
                attempt_id=before.id,
                n=1,
                seq=99,
                item_id=answer["item"],
                choice="E",
                score=0,
                answered_at=before.started_at,
                prev_hash="x",
                hash="planted",
            )
        )
        db.session.commit()

    ack = sock.emit("answer", answer, namespace="/exam", callback=True)
    assert ack["ok"] is False and ack["error"] == "retry", ack
    with app.app_context():
        after = db.session.get(Attempt, state["attempt"])
        assert {c: getattr(after, c) for c in kept} == kept
        assert [r.hash for r in Response.query.all()] == ["planted"]
        # a refused answer presents no next item either
        assert Presentation.query.count() == kept["n_presented"]
        Response.query.delete()
        db.session.commit()

    ack = sock.emit("answer", answer, namespace="/exam", callback=True)
    assert ack["ok"] and ack["state"]["seq"] == state["seq"] + 1, ack
    with app.app_context():
        assert [(r.seq, r.choice) for r in Response.query.all()] == [(state["seq"], "A")]
