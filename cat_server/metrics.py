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

The answer path pays an increment and a histogram observation (under gevent
made by a short greenlet, once the ack is written): no statement, no lock
beyond prometheus_client's own.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import socket
import struct
import sys
import time
from pathlib import Path

from flask import Response, current_app, request
from gevent.local import local
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
from socketio.packet import BINARY_EVENT, EVENT, Packet

from .extensions import db, socketio

# About 10 % apart from 1 ms to 10 s (the E24 series, 24 a decade): wherever the
# acks live, quiet (a few ms) or overloaded (seconds), histogram_quantile
# interpolates inside a bucket a tenth of the value wide, so its p99 is within a
# few per cent of the exact one. Equal 2.5 ms steps were 50 % wide at 5 ms and
# 33 % at 1.5-2 s.
_E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0,
        3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)  # fmt: skip
ACK_BUCKETS = (*(round(m * 10.0**e, 6) for e in range(-3, 1) for m in _E24), 10.0)

ANSWERS = Counter("cat_answers", "Answers stored and acknowledged.")
ACK_SECONDS = Histogram(
    "cat_answer_ack_seconds",
    "Time from an answer's packet reaching the server's socket to its ack (after the commit).",
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


READ_AT = "_cat_read_at"
# Socket.IO's own events: the server raises them itself; a client may not send them
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


class StampedPacket(Packet):
    """Socket.IO's packet, with the moment an ``answer`` was read put into its payload.

    python-socketio decodes a packet in the greenlet that read it off the socket
    (engine.io's websocket loop, or the polling POST), before handing the event
    to a new greenlet for its handler. On a busy loop that hand-off waits, and
    the client waits with it: stamped here, ``cat_answer_ack_seconds`` counts it
    as the client's round trip does. The stamp is always this server's own (a
    client's key of that name is overwritten); the handler pops it.
    """

    def decode(self, encoded_packet):
        attachments = super().decode(encoded_packet)
        data = self.data
        if (
            self.packet_type in (EVENT, BINARY_EVENT)
            and isinstance(data, list)
            and data
            and data[0] in RESERVED_EVENTS
        ):
            # a client's event named "disconnect" ran the real disconnect handler: the seat
            # showed disconnected while the socket kept answering, and a second browser with
            # a copy of the cookie got in beside it (issue 16, outsider's attack). Renamed,
            # it is an unknown event (realtime.AckedNamespace: ``unknown_event``).
            data[0] = f"client-sent {data[0]}"
        if (
            self.packet_type == EVENT
            and self.namespace == "/exam"
            and isinstance(data, list)
            and len(data) == 2
            and data[0] == "answer"
            and isinstance(data[1], dict)
        ):
            data[1][READ_AT] = received_at()
        return attachments


# Linux's SO_TIMESTAMP and SCM_TIMESTAMP (asm-generic; Python's socket has no name for it):
# each recvmsg then carries the kernel's receive time of the newest data it returns.
SO_TIMESTAMP = 29
_TIMESTAMP_SPACE = 64  # room for one struct timeval control message
_stamped = local()  # per greenlet (per thread without gevent): this websocket's socket


class KernelStampedSocket:
    """A websocket's socket whose reads note when the kernel received the data.

    simple-websocket's reader calls ``recv``; this answers it with ``recvmsg``
    and keeps the kernel's receive time (``SO_TIMESTAMP``). A frame that came
    while the event loop was running other greenlets (a handler, a batch
    commit) waits in the socket until the loop polls: that wait is part of the
    candidate's round trip, and only the kernel's time shows it. Anything else
    goes to the socket itself.
    """

    def __init__(self, sock):
        self._sock = sock
        self.received_wall = None

    def recv(self, size, flags=0):
        data, ancillary, _, _ = self._sock.recvmsg(size, _TIMESTAMP_SPACE, flags)
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(value) >= 16:
                seconds, micros = struct.unpack("qq", value[:16])
                self.received_wall = seconds + micros / 1e6
        return data

    def __getattr__(self, name):
        return getattr(self._sock, name)


class KernelStamps:
    """WSGI wrapper: a websocket request's socket reads with kernel receive times.

    Outside engine.io's own wrapper, so engine.io and simple-websocket see the
    wrapped socket; the request's greenlet (engine.io's read loop, where
    python-socketio decodes each packet) keeps it in ``_stamped``. Only gunicorn
    on Linux; anything else (the test client, polling, another server) is
    passed through and stamped at decode time, as before.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if (
            sock is None
            or not sys.platform.startswith("linux")
            or environ.get("HTTP_UPGRADE", "").lower() != "websocket"
        ):
            return self.wsgi_app(environ, start_response)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        except (OSError, AttributeError):
            return self.wsgi_app(environ, start_response)
        stamped = environ["gunicorn.socket"] = KernelStampedSocket(sock)
        _stamped.sock = stamped
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            _stamped.sock = None


def received_at() -> float:
    """``perf_counter`` of when this greenlet's websocket data reached the kernel, else now.

    The kernel's time is the wall clock's; its age, taken from ``time.time()``
    now, is subtracted from ``perf_counter()`` now. An age under 0 or over 30 s
    (a clock step) is not trusted.
    """
    now = time.perf_counter()
    stamped = getattr(_stamped, "sock", None)
    wall = stamped.received_wall if stamped is not None else None
    if wall is None:
        return now
    age = time.time() - wall
    return now - age if 0.0 <= age < 30.0 else now


def read_at(payload) -> float:
    """The stamp ``StampedPacket`` put in an answer's payload (now, if there is none)."""
    stamp = payload.pop(READ_AT, None) if isinstance(payload, dict) else None
    return stamp if isinstance(stamp, float) else time.perf_counter()


def answer_acked(read: float) -> None:
    """One answer acknowledged: counted, and its time from its packet read to its ack written.

    The handler returns the reply; python-socketio queues the ack packet and
    engine.io's writer greenlet, woken by that queue, writes it to the socket.
    Under gevent the observation waits for that write: a greenlet started now
    runs after the handler, yields once (gevent runs callbacks in order: the
    writer's wake-up was scheduled before that yield), and is resumed once the
    writer has sent the ack and waits for the next packet.
    """
    ANSWERS.inc()
    if socketio.async_mode == "gevent":
        socketio.start_background_task(_observe_after_write, read)
    else:
        ACK_SECONDS.observe(time.perf_counter() - read)


def _observe_after_write(read: float) -> None:
    socketio.sleep(0)
    ACK_SECONDS.observe(time.perf_counter() - read)


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
    app.wsgi_app = KernelStamps(app.wsgi_app)  # outside engine.io's wrapper (socketio.init_app)


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
