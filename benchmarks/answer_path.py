"""The server's own cost of one answer, without the network: CPU, statements, round trips.

    .venv/bin/python -m benchmarks.answer_path                      # SQLite file
    .venv/bin/python -m benchmarks.answer_path --db postgresql://postgres@127.0.0.1:5432/postgres

Seeds a load sitting (``cat-server load-seed``'s data, a new database each
run), logs in ``--seats`` candidates, connects each over Flask-SocketIO's test
client and lets them answer round robin through the real ``answer`` handler
(Flask request context, session, service, commit, ack), ``--answers`` in all.
It prints the handler's CPU milliseconds per answer of this process (what the
load scenarios' ``server_cpu_ms_per_answer`` measures minus the websocket
transport), the SQL statements per answer and, on PostgreSQL, the CPU the
database's backends spent per answer. CPU time hardly depends on what else
runs on the box, so two versions of the code compare well one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, text


def _backend_cpu_s(engine, database):
    """CPU seconds of every PostgreSQL backend connected to ``database`` (same host only)."""
    with engine.connect() as conn:
        pids = (
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": database}
            )
            .scalars()
            .all()
        )
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run(db_url, seats, answers, rounds):
    from cat_server import create_app
    from cat_server.exam import attempts
    from cat_server.extensions import db, socketio
    from cat_server.loadseed import seed_load_sitting

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": db_url,
            "SECRET_KEY": "bench",
            "BACKGROUND_TASKS": False,
            "SOCKETIO_ASYNC_MODE": "threading",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        sitting, rows = seed_load_sitting(
            seats, n_items=max(500, answers // seats + 10), pin="123456"
        )
        sitting_id = sitting.id
        db.session.commit()
        engine = db.engine
    sockets = []
    for row in rows:
        client = app.test_client()
        reply = client.post(
            f"/exam/{sitting_id}/",
            data={"registration_no": row["registration_no"], "pin": "123456"},
        )
        assert reply.status_code == 302, reply.status_code
        sockets.append((client, None))
    with app.app_context():
        attempts.start_sitting(sitting_id, "bench")
    states = []
    for i, (client, _) in enumerate(sockets):
        sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
        state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
        sockets[i] = (client, sock)
        states.append(state)

    statements = [0]

    def count(*_args):
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    pg = engine.dialect.name == "postgresql"
    results = []
    per_round = answers // rounds
    for _ in range(rounds):
        statements[0] = 0
        backend0 = _backend_cpu_s(engine, engine.url.database) if pg else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for n in range(per_round):
            i = n % len(sockets)
            state = states[i]
            ack = sockets[i][1].emit(
                "answer",
                {
                    "attempt": state["attempt"],
                    "seq": state["seq"],
                    "item": state["item"]["id"],
                    "choice": "ABCDE"[n % 5],
                },
                namespace="/exam",
                callback=True,
            )
            assert ack["ok"], ack
            states[i] = ack["state"]
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        backend = (_backend_cpu_s(engine, engine.url.database) - backend0) if pg else None
        results.append(
            {
                "cpu_ms": cpu * 1000 / per_round,
                "wall_ms": wall * 1000 / per_round,
                "statements": statements[0] / per_round,
                "db_backend_cpu_ms": backend * 1000 / per_round if pg else None,
            }
        )
    event.remove(engine, "before_cursor_execute", count)
    for _, sock in sockets:
        sock.disconnect(namespace="/exam")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    def median(key):
        values = [r[key] for r in results if r[key] is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "db": engine.dialect.name,
        "seats": seats,
        "answers": per_round * rounds,
        "rounds": rounds,
        "cpu_ms_per_answer": median("cpu_ms"),
        "wall_ms_per_answer": median("wall_ms"),
        "statements_per_answer": median("statements"),
        "db_backend_cpu_ms_per_answer": median("db_backend_cpu_ms"),
        "cpu_ms_each_round": [round(r["cpu_ms"], 3) for r in results],
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.answer_path", description=__doc__)
    p.add_argument(
        "--db",
        default="sqlite",
        help="'sqlite' (a new file) or a PostgreSQL URL "
        "(a new database is made beside it and dropped after)",
    )
    p.add_argument("--seats", type=int, default=50)
    p.add_argument("--answers", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=5, help="the median round is reported")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    drop = None
    if args.db == "sqlite":
        tmp = tempfile.mkdtemp(prefix="cat-bench-")
        url = f"sqlite:///{tmp}/bench.db"
    else:
        from loadtests.scenarios import make_database

        url, drop = make_database("postgresql", None, base=args.db, prefix="cat_bench")
    try:
        figures = run(url, args.seats, args.answers, args.rounds)
    finally:
        if drop:
            drop()
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
