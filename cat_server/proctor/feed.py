"""Coalesced status fan-out to proctors.

Services call ``seat_changed`` after their commit; nothing is sent then. Every
FEED_INTERVAL (0.25 s) one flush sends each watched sitting ONE ``seats``
message holding snapshots of the seats that changed, so a proctor screen gets at
most 4 messages a second whatever the number of seats or events.
"""

from __future__ import annotations

import threading
import time

from ..extensions import socketio

ALL = None  # "every seat of the sitting changed"

_lock = threading.Lock()
_dirty: dict[int, set[int] | None] = {}
# the public score boards get a full snapshot at most once per BOARD_INTERVAL
BOARD_INTERVAL = 1.0
_board_pending: set[int] = set()
_board_sent: dict[int, float] = {}


def seat_changed(sitting_id: int, candidate_id: int | None = ALL) -> None:
    """Mark one candidate's seat (or, with ALL, every seat) as changed."""
    with _lock:
        if candidate_id is ALL:
            _dirty[sitting_id] = ALL
        elif sitting_id not in _dirty:
            _dirty[sitting_id] = {candidate_id}
        elif _dirty[sitting_id] is not ALL:
            _dirty[sitting_id].add(candidate_id)


def take_dirty() -> dict[int, set[int] | None]:
    with _lock:
        dirty = dict(_dirty)
        _dirty.clear()
    return dirty


def flush() -> int:
    """Send one batched ``seats`` message per changed sitting; return how many were sent."""
    from . import service  # the snapshot queries live with the other proctor rules

    sent = 0
    dirty = take_dirty()
    for sitting_id, candidate_ids in dirty.items():
        payload = service.sitting_snapshot(sitting_id, candidate_ids)
        socketio.emit("seats", payload, namespace="/proctor", to=f"sitting:{sitting_id}")
        sent += 1
    flush_boards(dirty)
    return sent


def flush_boards(dirty=(), force=False) -> None:
    """Send the changed sittings' score boards, each at most once per BOARD_INTERVAL."""
    from . import board

    now = time.monotonic()
    with _lock:
        _board_pending.update(dirty)
        due = [s for s in _board_pending
               if force or now - _board_sent.get(s, -BOARD_INTERVAL) >= BOARD_INTERVAL]
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
