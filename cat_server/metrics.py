"""Prometheus metrics at ``/metrics``, for the centre's monitoring only (issue 23).

What the processes count as they go (answers, ack latency, the writers' batches
and commits, logins refused for load, database and Redis errors, memory) lives
in ``prometheus_client`` metrics; what the database knows (seats connected and
disconnected per sitting, how far the reaper is behind) is read when scraped,
by the one process that answers the scrape, so it is never counted twice.

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (the systemd unit sets
it to one directory for every process of the box) each process writes its
values to files there and any process's ``/metrics`` sums them, so one scrape
through nginx sees the whole box. Without it each process shows only its own
values. Counters of a process that is gone stay in the sum (a counter never
goes back); its gauges are dropped when a new process starts (``start``).

The answer path pays an increment and a histogram observation: no statement,
no lock beyond prometheus_client's own.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from pathlib import Path

from flask import Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from .extensions import db

# 2.5 ms steps to 60 ms, then coarser: fine enough that histogram_quantile's p99
# lands within a few per cent of the exact one in the usual 20-60 ms range.
ACK_BUCKETS = (
    *(round(0.0025 * i, 4) for i in range(1, 25)),
    0.07, 0.08, 0.09, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0,
    2.5, 3.0, 4.0, 5.0, 7.5, 10.0,
)  # fmt: skip

ANSWERS = Counter("cat_answers", "Answers stored and acknowledged.")
ACK_SECONDS = Histogram(
    "cat_answer_ack_seconds",
    "Time from an answer event reaching its handler to its ack (after the commit).",
    buckets=ACK_BUCKETS,
)
BATCH_SIZE = Histogram(
    "cat_writer_batch_size",
    "Jobs per batch of a writer: sqlite (group commit) or postgresql (answer lane).",
    ["writer"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
COMMIT_SECONDS = Histogram(
    "cat_writer_commit_seconds",
    "Commit time of a writer's batch (SQLite: the fsync; PostgreSQL: writes + COMMIT).",
    ["writer"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
)
LOGINS_REFUSED = Counter(
    "cat_logins_refused", "Login POSTs refused with 503 because too many were in flight."
)
ERRORS = Counter("cat_errors", "Database and Redis errors, by kind.", ["kind"])
MEMORY = Gauge(
    "cat_process_resident_memory_bytes",
    "Resident memory of each server process.",
    multiprocess_mode="liveall",
)
for _kind in ("database", "redis"):
    ERRORS.labels(_kind)  # shown as 0 before the first one


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def start() -> None:
    """A server process starts: drop the gauges of processes that are gone, note memory."""
    path = multiprocess_dir()
    if path:
        for pid in {_pid_of(f) for f in Path(path).glob("gauge_live*_*.db")} - {None}:
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, path)
    note_memory()


def note_memory() -> None:
    try:
        with open("/proc/self/statm") as f:
            MEMORY.set(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except OSError:
        pass


def answer_acked(started: float) -> None:
    ANSWERS.inc()
    ACK_SECONDS.observe(time.perf_counter() - started)


def batch_committed(writer: str, size: int, seconds: float) -> None:
    BATCH_SIZE.labels(writer).observe(size)
    COMMIT_SECONDS.labels(writer).observe(seconds)


def _pid_of(path: Path) -> int | None:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ErrorCounter(logging.Handler):
    """Counts logged exceptions that are database or Redis errors (``cat_errors_total``)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)

    def emit(self, record):
        kind = error_kind(record.exc_info[1] if record.exc_info else None, record.getMessage())
        if kind:
            ERRORS.labels(kind).inc()


def error_kind(error, message: str = "") -> str | None:
    import redis
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(error, DBAPIError | PoolTimeout):
        return "database"
    if isinstance(error, redis.RedisError) or (error is None and "redis" in message.lower()):
        return "redis"
    return None


class DatabaseCollector:
    """Read at scrape time: seats connected / disconnected per sitting, the reaper's lag."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from .models import Attempt, utcnow

        seats = GaugeMetricFamily(
            "cat_seats",
            "Attempts of open or started sittings, waiting or in progress, by connection.",
            labels=["sitting", "state"],
        )
        lag = GaugeMetricFamily(
            "cat_reaper_lag_seconds",
            "How far past its deadline the most overdue attempt still in progress is (0: none).",
        )
        up = GaugeMetricFamily("cat_database_up", "1 when the scrape could read the database.")
        try:
            with self.app.app_context():
                rows = db.session.execute(
                    db.select(
                        Attempt.sitting_id,
                        Attempt.connected_sid.is_not(None),
                        db.func.count(),
                    )
                    .where(Attempt.status.in_(("waiting", "in_progress")))
                    .group_by(Attempt.sitting_id, Attempt.connected_sid.is_not(None))
                ).all()
                now = utcnow()
                oldest = db.session.execute(
                    db.select(db.func.min(Attempt.deadline_at)).where(
                        Attempt.status == "in_progress", Attempt.deadline_at < now
                    )
                ).scalar()
                db.session.remove()
        except Exception:
            ERRORS.labels("database").inc()
            up.add_metric([], 0)
            yield up
            return
        counts: dict = {}
        for sitting_id, connected, n in rows:
            counts.setdefault(sitting_id, {"connected": 0, "disconnected": 0})
            counts[sitting_id]["connected" if connected else "disconnected"] += n
        for sitting_id, by_state in sorted(counts.items()):
            for state, n in by_state.items():
                seats.add_metric([str(sitting_id), state], n)
        lag.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        up.add_metric([], 1)
        yield from (seats, lag, up)


def init_app(app) -> None:
    app.config.setdefault("METRICS_ALLOW", "127.0.0.1,::1")
    app.config.setdefault("METRICS_TOKEN", "")
    handler = ErrorCounter()
    app.logger.addHandler(handler)
    logging.getLogger("socketio").addHandler(handler)  # RedisManager's publish failures
    app.extensions["cat_metrics_db"] = DatabaseCollector(app)
    app.add_url_rule("/metrics", endpoint="metrics", view_func=view)


def allowed() -> bool:
    """A bearer token equal to CAT_METRICS_TOKEN, or an address in CAT_METRICS_ALLOW.

    The address is the peer's, or behind CAT_TRUSTED_PROXIES the client's as the
    proxy reports it. A request that came through a proxy the app does not
    trust (X-Forwarded-For with CAT_TRUSTED_PROXIES=0) has no address to
    believe: nginx on the same box would otherwise make every client local.
    """
    token = current_app.config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if "X-Forwarded-For" in request.headers and not current_app.config.get("TRUSTED_PROXIES"):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for entry in str(current_app.config.get("METRICS_ALLOW") or "").split(","):
        if entry.strip():
            try:
                if address in ipaddress.ip_network(entry.strip(), strict=False):
                    return True
            except ValueError:
                current_app.logger.warning("CAT_METRICS_ALLOW: %r is no address", entry)
    return False


def view():
    if not allowed():
        return Response(
            "Metrik hanya untuk pemantauan pusat (alamat atau token).\n"
            "Metrics are for the centre's monitoring only (address or token).\n",
            status=403,
            mimetype="text/plain",
        )
    note_memory()
    database = CollectorRegistry()
    database.register(current_app.extensions["cat_metrics_db"])
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    body += generate_latest(database)
    # the 0.0.4 text format: every Prometheus reads it (names here need no escaping)
    return Response(
        body, content_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"Cache-Control": "no-store"}
    )
