"""``python -m loadtests.scenarios nginx``: the production layout under load.

Debian's nginx with the shipped docs/deploy/nginx.conf (TLS, loadtests/nginx.py)
before ``--servers`` gunicorn processes joined by Redis on PostgreSQL; the seats
log in and answer over HTTPS from three loopback /24s (127.0.1-3.x), as a lab
does. Then the same seats, think time and duration straight at one process
(no nginx, no TLS), for the comparison: ``one_process_answers_per_s`` and
``one_process_p99_ms`` beside the nginx run's own report keys, and how many
seats each process held (``seats_per_process``, from nginx's access log).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from loadtests.nginx import Nginx
from loadtests.scenarios import LOAD_SECRET_KEY, PROCTOR, Server, make_database, seed, simulate

SUBNETS = 3


def run(args) -> dict:
    workdir = Path(args.workdir)
    args.db = "postgresql"
    think = args.think_time or 2.0
    report = _through_nginx(args, workdir, think)
    alone = _one_process(args, workdir, think)
    report.update(
        one_process_answers_per_s=alone["answers_per_s"],
        one_process_p99_ms=alone["p99_ms"],
        one_process_acked_lost=alone["acked_lost"],
    )
    return report


def _env(db_url, redis=True):
    env = {
        "CAT_DATABASE_URL": db_url,
        "CAT_SECRET_KEY": LOAD_SECRET_KEY,
        "CAT_RATELIMIT_ENABLED": "false",
    }
    if redis:
        env.update(
            CAT_REDIS_URL=os.environ.get("CAT_LOAD_REDIS_URL", "redis://127.0.0.1:6379/0"),
            CAT_SOCKETIO_CHANNEL=f"cat-load-{secrets.token_hex(3)}",
            CAT_TRUSTED_PROXIES="1",  # behind this nginx, as docs/deploy/ says
            CAT_SESSION_COOKIE_SECURE="true",
        )
    else:
        env["CAT_MAX_SOCKETS_PER_ADDRESS"] = "0"  # every seat on 127.0.0.1
    return env


def _through_nginx(args, workdir, think):
    db_url, drop = make_database("postgresql", workdir)
    servers, nginx = [], None
    try:
        sitting, csv_path = seed(db_url, args.seats, workdir)
        env = _env(db_url)
        servers = [Server(workdir, f"nginx-proc-{i}", env) for i in range(args.servers)]
        nginx = Nginx(workdir / f"nginx-{secrets.token_hex(3)}", [s.port for s in servers])
        nginx.start()
        report = simulate(
            nginx.url,
            sitting,
            csv_path,
            db_url,
            args.report,
            args.seats,
            think,
            args.duration,
            "--proctor",
            PROCTOR,
            "--procs",
            str(args.procs),
            "--subnets",
            str(SUBNETS),
            "--cafile",
            str(nginx.cert),
        )
        per_process = {}
        for upstreams in nginx.upstreams_by_address().values():
            for upstream in upstreams:
                per_process[upstream] = per_process.get(upstream, 0) + 1
        report.update(
            scenario="nginx",
            db="postgresql",
            servers=args.servers,
            seats_per_process=per_process,
        )
        return report
    finally:
        if nginx:
            nginx.stop()
        for server in servers:
            server.stop()
        drop()


def _one_process(args, workdir, think):
    db_url, drop = make_database("postgresql", workdir)
    server = None
    try:
        sitting, csv_path = seed(db_url, args.seats, workdir)
        server = Server(workdir, "nginx-compare-one", _env(db_url, redis=False))
        return simulate(
            server.url,
            sitting,
            csv_path,
            db_url,
            str(Path(args.report).with_suffix(".one-process.json")),
            args.seats,
            think,
            args.duration,
            "--proctor",
            PROCTOR,
            "--procs",
            str(args.procs),
        )
    finally:
        if server:
            server.stop()
        drop()
