"""Backup time and size of a full sitting (docs/RELIABILITY.md, "Backup and restore").

    python -m loadtests.backup_figures --db sqlite --seats 300 --items 110
    python -m loadtests.backup_figures --db postgresql --seats 300 --items 110

Makes a fresh database (a SQLite file under --workdir, or a new PostgreSQL
database on ``$CAT_LOAD_PG_URL``), seeds it with ``cat-server load-seed``'s
sitting, answers every item of every seat through the server's own answer path
(``answers.record_answer``: the same rows, chain hashes and audit as a real
sitting), then times ``cat-server backup`` (the copy, and the copy plus its
verification) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url


def _fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        path = workdir / f"backup-figures-{secrets.token_hex(3)}.db"
        return f"sqlite:///{path}"
    import psycopg

    base = os.environ.get("CAT_LOAD_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"cat_backup_figures_{secrets.token_hex(3)}"
    with psycopg.connect(base, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=name).render_as_string(hide_password=False)


def fill(url: str, seats: int, items: int, chain_key: str) -> dict:
    """Seed the sitting and answer every item of every seat; return the counts."""
    from cat_server.exam import attempts, views
    from cat_server.exam.answers import record_answer
    from cat_server.exam.payloads import AnswerIn
    from cat_server.extensions import db
    from cat_server.factory import create_app
    from cat_server.loadseed import seed_load_sitting

    app = create_app(
        {"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x" * 32, "CHAIN_KEY": chain_key}
    )
    with app.app_context():
        db.create_all()
        sitting, rows = seed_load_sitting(seats, items, pin="123456")
        ids = [
            attempts.login_candidate(sitting.id, r["registration_no"], "123456").id for r in rows
        ]
        attempts.start_sitting(sitting.id, "backup-figures")
        for attempt_id in ids:
            state = views.attempt_state(db.session.get(attempts.Attempt, attempt_id))
            while state["status"] == "in_progress":
                answer = AnswerIn(
                    attempt_id, state["seq"], state["item"]["id"], "ABCDE"[state["seq"] % 5]
                )
                state = record_answer(attempt_id, answer)["state"]
            db.session.remove()
    return {"seats": seats, "items": items, "answers": seats * items}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--seats", type=int, default=300)
    p.add_argument("--items", type=int, default=110)
    p.add_argument("--workdir", default="/tmp/cat-load")
    args = p.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    url = _fresh_database(args.db, workdir)
    chain_key = os.environ.get("CAT_CHAIN_KEY") or secrets.token_hex(32)
    started = time.perf_counter()
    report = fill(url, args.seats, args.items, chain_key)
    report["fill_s"] = round(time.perf_counter() - started, 1)
    dest = workdir / f"backups-{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "CAT_DATABASE_URL": url,
        "CAT_CHAIN_KEY": chain_key,
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from cat_server.cli import main; main()", "backup", str(dest)],
        env=env,
        capture_output=True,
        text=True,
    )
    report["backup_and_verify_s"] = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        sys.exit(done.stdout + done.stderr)
    report["output"] = done.stdout.strip().splitlines()
    (path,) = dest.iterdir()
    report["size_mb"] = round(path.stat().st_size / 1e6, 2)
    if args.db == "sqlite":
        files = Path(make_url(url).database).parent.glob(Path(make_url(url).database).name + "*")
        report["database_mb"] = round(sum(f.stat().st_size for f in files) / 1e6, 2)
    report["db"] = args.db
    print(json.dumps(report))


if __name__ == "__main__":
    main()
