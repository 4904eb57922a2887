"""Coalesced status fan-out to proctors.

The exam side announces a changed seat after its commit (``exam.signals``,
connected in ``init_app``); the proctor's own services call ``seat_changed``.
Nothing is sent then. Every
FEED_INTERVAL (0.25 s) one flush sends each proctor socket watching a changed
sitting ONE ``seats`` message holding snapshots of the seats that changed, so a
proctor screen gets at most 4 messages a second whatever the number of seats or
events.

The pacing is per proctor socket, on the process that holds it (``watch``
registers the socket): a flush (the loop runs one every FEED_INTERVAL) sends a
socket its changes only once its previous message has left the server (its
engine.io queue is empty). A process too busy to write on time therefore merges
the changes into the next message instead of letting messages pile up and reach
the browser in a burst.

With several processes joined by Redis (``REDIS_URL``) a proctor's socket is
on one process and the seats change on all of them: each flush publishes the
ids of the seats changed here (not snapshots) on ``<SOCKETIO_CHANNEL>-feed``,
every process's ``listen`` loop merges the others' ids, and each process paces
its own sockets as above. So the limit holds per screen whatever the number of
processes.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from flask import current_app

from .. import lockout
from ..exam import signals
from ..extensions import socketio

ALL = None  # "every seat of the sitting changed"

_lock = threading.Lock()
_dirty: dict[int, set[int] | None] = {}
# the public score boards get a full snapshot at most once per BOARD_INTERVAL
BOARD_INTERVAL = 1.0
_board_pending: set[int] = set()
_board_sent: dict[int, float] = {}


def init_app(app) -> None:
    """Listen to the exam side and to lock-outs: every seat announced is marked for the next flush."""
    signals.seat_changed.connect(_on_seat_changed, weak=False)
    lockout.lockout_changed.connect(_on_seat_changed, weak=False)


def _on_seat_changed(sitting_id: int, candidate: int | None = ALL) -> None:
    seat_changed(sitting_id, candidate)


def seat_changed(sitting_id: int, candidate_id: int | None = ALL) -> None:
    """Mark one candidate's seat (or, with ALL, every seat) as changed."""
    with _lock:
        if candidate_id is ALL:
            _dirty[sitting_id] = ALL
        elif sitting_id not in _dirty:
            _dirty[sitting_id] = {candidate_id}
        elif _dirty[sitting_id] is not ALL:
            _dirty[sitting_id].add(candidate_id)


@dataclass
class _Screen:
    """One proctor socket on this process: what changed since its last message."""

    sitting: int
    pending: set[int] | None = field(default_factory=set)  # None: every seat
    sent_at: float = 0.0  # time.monotonic() of its last message


_screens: dict[str, _Screen] = {}  # Socket.IO sid -> its screen
# With Redis: seats other processes changed, merged at the next flush
_remote: dict[int, set[int] | None] = {}
_PROCESS = secrets.token_hex(8)  # skips this process's own publications
_publisher = None


def watch(sid: str, sitting_id: int) -> None:
    """Pace ``seats`` messages for this socket (it just got a full snapshot)."""
    with _lock:
        _screens[sid] = _Screen(sitting_id)


def unwatch(sid: str) -> None:
    with _lock:
        _screens.pop(sid, None)


def _merge(pending, candidate_ids):
    if pending is ALL or candidate_ids is ALL:
        return ALL
    return pending | candidate_ids


def _written(sid: str) -> bool:
    """Has this socket's previous message left the server (nothing queued for it)?"""
    server = socketio.server
    try:
        eio_sid = server.manager.eio_sid_from_sid(sid, "/proctor")
        eio_socket = server.eio.sockets.get(eio_sid)
    except (AttributeError, KeyError):
        return True
    return eio_socket is None or eio_socket.queue.empty()


def take_dirty() -> dict[int, set[int] | None]:
    with _lock:
        dirty = dict(_dirty)
        _dirty.clear()
    return dirty


def flush() -> int:
    """Send the changed seats to the proctor screens; return how many sittings got a message."""
    from . import service  # the snapshot queries live with the other proctor rules

    dirty = take_dirty()
    changed = dirty
    if current_app.config.get("REDIS_URL"):
        _publish(dirty)
        with _lock:
            changed = dict(_remote)
            _remote.clear()
        for sitting_id, candidate_ids in dirty.items():
            changed[sitting_id] = _merge(changed.get(sitting_id, set()), candidate_ids)
    due = []
    with _lock:
        for sid, screen in _screens.items():
            if screen.sitting in changed:
                screen.pending = _merge(screen.pending, changed[screen.sitting])
            if screen.pending is ALL or screen.pending:
                due.append((sid, screen))
    sent, snapshots = set(), {}
    # at least one FEED_INTERVAL between two messages to a screen, whatever the
    # flushes' own timing (the browser may still see two closer after queueing)
    gap = current_app.config["FEED_INTERVAL"]
    for sid, screen in due:
        if not socketio.server.manager.is_connected(sid, "/proctor"):
            unwatch(sid)
            continue
        if not _written(sid):
            continue  # its last message is still queued: merge into the next one
        if time.monotonic() - screen.sent_at < gap:
            continue  # a late flush before an early one: never 5 in a second
        with _lock:
            pending, screen.pending = screen.pending, set()
        screen.sent_at = time.monotonic()
        key = (screen.sitting, None if pending is ALL else frozenset(pending))
        if key not in snapshots:
            snapshots[key] = service.sitting_snapshot(screen.sitting, pending)
        socketio.emit("seats", snapshots[key], namespace="/proctor", to=sid)
        sent.add(screen.sitting)
    flush_boards(dirty)
    return len(sent)


def _channel(app) -> str:
    return f"{app.config['SOCKETIO_CHANNEL']}-feed"


def _publish(dirty) -> None:
    """Tell the other processes which seats changed here (their proctors may watch)."""
    if not dirty:
        return
    publish({"dirty": {str(s): None if ids is ALL else sorted(ids) for s, ids in dirty.items()}})


def publish(message: dict) -> None:
    """Send ``message`` to the other processes' ``listen`` loops (needs REDIS_URL)."""
    global _publisher
    if _publisher is None:
        import redis

        _publisher = redis.Redis.from_url(current_app.config["REDIS_URL"])
    _publisher.publish(_channel(current_app), json.dumps({"from": _PROCESS, **message}))


def listen(app) -> None:
    """Background loop with Redis (one per process): merge the seats other processes changed.

    It also ends this process's sockets of a staff account changed elsewhere (sessions.py).
    """
    import redis

    from . import sessions

    while True:
        try:
            pubsub = redis.Redis.from_url(app.config["REDIS_URL"]).pubsub(
                ignore_subscribe_messages=True
            )
            pubsub.subscribe(_channel(app))
            for message in pubsub.listen():
                data = json.loads(message["data"])
                if data.get("from") == _PROCESS:
                    continue
                if "end_staff" in data:  # an account changed on another process
                    with app.app_context():
                        sessions.disconnect_local(data["end_staff"])
                    continue
                with _lock:
                    for sitting, ids in data["dirty"].items():
                        sitting_id = int(sitting)
                        _remote[sitting_id] = _merge(
                            _remote.get(sitting_id, set()), ALL if ids is None else set(ids)
                        )
        except Exception:  # Redis away: the local screens still get the local changes
            app.logger.exception("proctor feed listener failed; retrying in 1 s")
            socketio.sleep(1.0)


def flush_boards(dirty=(), force=False) -> None:
    """Send the changed sittings' score boards, each at most once per BOARD_INTERVAL."""
    from . import board

    now = time.monotonic()
    with _lock:
        _board_pending.update(dirty)
        due = [
            s
            for s in _board_pending
            if force or now - _board_sent.get(s, -BOARD_INTERVAL) >= BOARD_INTERVAL
        ]
        _board_pending.difference_update(due)
        _board_sent.update(dict.fromkeys(due, now))
    for sitting_id in due:
        board.push(sitting_id)


def run(app) -> None:
    """Background loop (one per process): flush, then sleep the interval."""
    interval = app.config["FEED_INTERVAL"]
    while True:
        socketio.sleep(interval)
        try:
            with app.app_context():
                flush()
        except Exception:  # a failed flush must not stop the feed for good
            app.logger.exception("proctor feed flush failed")
