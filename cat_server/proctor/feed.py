"""Coalesced status fan-out to proctors.

Services call ``seat_changed`` after their commit; nothing is sent then. Every
FEED_INTERVAL (0.25 s) one flush sends each watched sitting ONE ``seats``
message holding snapshots of the seats that changed, so a proctor screen gets at
most 4 messages a second whatever the number of seats or events.
"""

from __future__ import annotations

import threading

from ..extensions import socketio

ALL = None  # "every seat of the sitting changed"

_lock = threading.Lock()
_dirty: dict[int, set[int] | None] = {}


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
    for sitting_id, candidate_ids in take_dirty().items():
        payload = service.sitting_snapshot(sitting_id, candidate_ids)
        socketio.emit("seats", payload, namespace="/proctor", to=f"sitting:{sitting_id}")
        sent += 1
    return sent


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
