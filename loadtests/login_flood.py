"""Answer acks of a few seats while another client floods the server with logins (issue 16).

    python -m loadtests.login_flood --db postgresql --seats 10 --duration 50 --flooders 16

A fresh database and server as in ``loadtests.scenarios``; ``--seats`` candidates
log in, the proctor starts, and they answer every ``--think-time`` seconds.
``--flood-after`` seconds after every seat has answered (the baseline), a process of its own (at nice 10, so its own CPU
does not time the server) starts ``--flooders`` threads that send login POSTs
with wrong PINs and passwords (candidate and staff logins in turn, each one an
argon2 verify on the server) as fast as the answers come, until the seats are
done. The report: the seats' ack round trips before the flood and during it
(p50, p95, p99, max), the logins sent and their answers, and the server's CPU.
The login limits are off (``CAT_RATELIMIT_ENABLED=false``: every client is
127.0.0.1), so every login reaches the hash; the admission guard is on.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

from loadtests.scenarios import (
    LOAD_SECRET_KEY,
    PROCTOR,
    ROOT,
    RssSampler,
    Server,
    make_database,
    seed,
    simulate,
)
from loadtests.workstations import percentile

FLOOD = r"""
import json, os, re, sys, threading, time
import requests
url, sitting, flooders, go, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
pages_only = sys.argv[6] == "pages"  # the control: the same client, GETs of the login page
os.nice(10)
while not os.path.exists(go) and not os.path.exists(stop):
    time.sleep(0.1)
t_start, counts, lock = time.time(), {}, threading.Lock()

def token(session, page):
    html = session.get(page, timeout=30).text
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

def flood(i):
    staff, candidate = requests.Session(), requests.Session()
    exam = f"{url}/exam/{sitting}/"
    forms = [
        (staff, f"{url}/login", {"username": "loadtest", "password": "wrong-" + str(i),
                                 "csrf_token": token(staff, f"{url}/login")}),
        (candidate, exam, {"registration_no": f"9{i:07d}", "pin": "000000",
                           "csrf_token": token(candidate, exam)}),
    ]
    n = 0
    while not os.path.exists(stop):
        session, page, form = forms[n % 2]
        n += 1
        try:
            if pages_only:
                status = session.get(page, timeout=30).status_code
            else:
                status = session.post(page, data=form, allow_redirects=False, timeout=30).status_code
        except requests.RequestException:
            status = 0
        with lock:
            counts[status] = counts.get(status, 0) + 1

threads = [threading.Thread(target=flood, args=(i,)) for i in range(flooders)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"t_start": t_start, "t_end": time.time(), "counts": counts}))
"""


def figures(rtts, name):
    return {
        f"{name}_acks": len(rtts),
        f"{name}_p50_ms": percentile(rtts, 50),
        f"{name}_p95_ms": percentile(rtts, 95),
        f"{name}_p99_ms": percentile(rtts, 99),
        f"{name}_max_ms": round(max(rtts), 1) if rtts else None,
    }


def _start_flood_once_answering(db_url, seats, baseline_s, go: Path, stop: Path) -> None:
    """Touch ``go`` ``baseline_s`` seconds after every seat has an answer stored."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    query = sa.text("SELECT count(DISTINCT attempt_id) FROM response")
    try:
        while not stop.exists():
            with engine.connect() as connection:
                if connection.execute(query).scalar() >= seats:
                    break
            time.sleep(0.5)
    finally:
        engine.dispose()
    time.sleep(baseline_s)
    go.touch()


def run(args) -> dict:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db_url, drop = make_database(args.db, workdir)
    server = flood = None
    stop = workdir / f"stop-flood-{secrets.token_hex(3)}"
    go = workdir / f"go-flood-{secrets.token_hex(3)}"
    rtt_dump = workdir / f"rtt-{secrets.token_hex(3)}.json"
    try:
        sitting, csv_path = seed(db_url, args.seats, workdir)
        env = {
            "CAT_DATABASE_URL": db_url,
            "CAT_SECRET_KEY": LOAD_SECRET_KEY,
            "CAT_RATELIMIT_ENABLED": "false",
            "CAT_MAX_SOCKETS_PER_ADDRESS": "0",
            **({"CAT_HASH_THREADS": str(args.hash_threads)} if args.hash_threads else {}),
        }
        server = Server(workdir, "login-flood-server", env)
        sampler = RssSampler(server)
        sampler.start()
        if args.flooders:
            threading.Thread(
                target=_start_flood_once_answering,
                args=(db_url, args.seats, args.flood_after, go, stop),
                daemon=True,
            ).start()
            flood = subprocess.Popen(
                [sys.executable, "-c", FLOOD, server.url, str(sitting), str(args.flooders)]
                + [str(go), str(stop), "pages" if args.pages_only else "logins"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
        os.environ["CAT_LOAD_RTT_DUMP"] = str(rtt_dump)
        report = simulate(
            server.url,
            sitting,
            csv_path,
            db_url,
            workdir / "login-flood-report.json",
            args.seats,
            args.think_time,
            args.duration,
            "--think-jitter",
            "0.25",
            "--proctor",
            PROCTOR,
            "--procs",
            "1",
        )
        stop.touch()
        flooded = json.loads(flood.communicate(timeout=60)[0]) if flood else None
        sampler.stop_flag.set()
        dump = json.loads(rtt_dump.read_text())
        pairs = list(zip(dump["rtt_at"], dump["rtt_ms"], strict=True))
        out = {
            "db": args.db,
            "seats": args.seats,
            "think_time_s": args.think_time,
            "flooders": args.flooders,
            "flood": "login pages (GET)" if args.pages_only else "logins",
            "hash_threads": args.hash_threads or "default",
            "answers": report["answers"],
            "errors": report["errors"],
            "loadavg_1min_at_end": round(os.getloadavg()[0], 2),
            **sampler.cpu_figures(report),
        }
        if flooded:
            t0, t1 = flooded["t_start"], flooded["t_end"]
            out.update(figures([ms for at, ms in pairs if at < t0], "before"))
            out.update(figures([ms for at, ms in pairs if t0 + 1 <= at <= t1], "flood"))
            seconds = t1 - t0
            logins = sum(flooded["counts"].values())
            out.update(
                flood_s=round(seconds, 1),
                logins=logins,
                logins_per_s=round(logins / max(seconds, 0.001), 1),
                login_answers=flooded["counts"],
            )
        else:
            out.update(figures([ms for _, ms in pairs], "all"))
        return out
    finally:
        stop.touch()
        if flood and flood.poll() is None:
            flood.kill()
        if server:
            server.stop()
        drop()
        for path in (stop, go, rtt_dump):
            path.unlink(missing_ok=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m loadtests.login_flood", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    p.add_argument("--seats", type=int, default=10)
    p.add_argument("--think-time", type=float, default=0.5)
    p.add_argument("--duration", type=float, default=50)
    p.add_argument("--flooders", type=int, default=16, help="login threads (0: no flood)")
    p.add_argument(
        "--flood-after", type=float, default=10, help="seconds of baseline once all answer"
    )
    p.add_argument(
        "--pages-only",
        action="store_true",
        help="the control: the flood GETs the login pages instead (no hashing)",
    )
    p.add_argument("--hash-threads", type=int, default=None, help="CAT_HASH_THREADS")
    p.add_argument("--workdir", default="/tmp/cat-load")
    args = p.parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
