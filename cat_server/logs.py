"""The server's log: one line per event a centre greps for, plain or JSON lines.

Every audited event (login, start, pause, seat move, section and attempt end,
proctor actions...) becomes one line once its transaction is committed, with
the sitting, the seat and the attempt named: ``grep 'seat=PC-041'`` follows one
workstation through a day. ``CAT_LOG_FORMAT=json`` writes one JSON object a
line instead (``jq 'select(.seat == "PC-041")'``). Times are in the centre's
zone, with their label. Expected conditions (a refused foreign origin, the
greenlets gevent ends at shutdown) are one line each, never a traceback; a
foreign origin's line is its audit row's (refusals.py), one per address and minute.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from .models import Attempt, AuditEvent, Candidate, Seat

LOGGER = logging.getLogger("cat_server.events")
FIELDS = ("sitting", "seat", "attempt", "actor", "reason")


class Formatter(logging.Formatter):
    """``2026-12-06 23:15:02 WIB INFO event=login sitting=3 seat=PC-01 attempt=17 ...``"""

    def __init__(self, zone, label, as_json=False):
        super().__init__()
        self.zone, self.label, self.as_json = zone, label, as_json

    def stamp(self, record) -> datetime:
        return datetime.fromtimestamp(record.created, self.zone)

    def format(self, record):
        fields = dict(getattr(record, "cat_fields", None) or {})
        if fields and record.getMessage() != fields.get("event"):
            fields["message"] = record.getMessage()
        if self.as_json:
            line = {
                "time": self.stamp(record).isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                **(fields or {"message": record.getMessage()}),
            }
            if record.exc_info:
                line["traceback"] = self.formatException(record.exc_info)
            return json.dumps(line, ensure_ascii=False, default=str)
        text = record.getMessage()
        if fields:
            text = " ".join(f"{k}={_plain(v)}" for k, v in fields.items() if v is not None)
        head = f"{self.stamp(record):%Y-%m-%d %H:%M:%S} {self.label} {record.levelname}"
        line = f"{head} {record.name}: {text}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _plain(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def init_app(app) -> None:
    """Log lines of the app, its events, gunicorn's and Socket.IO's in one format.

    Under TESTING the handlers are left as they are (pytest captures the records).
    """
    from flask.logging import default_handler

    from . import localtime

    as_json = str(app.config.get("LOG_FORMAT") or "plain").lower() == "json"
    formatter = Formatter(localtime.check_zone(app.config["TIMEZONE"]), _label(app), as_json)
    engineio = logging.getLogger("engineio.server")
    if not any(isinstance(f, EngineioQuiet) for f in engineio.filters):
        engineio.addFilter(EngineioQuiet())
    if engineio.level > logging.WARNING or engineio.level == logging.NOTSET:
        engineio.setLevel(logging.WARNING)  # its warnings are worth a line; EngineioQuiet decides
    if not app.config.get("TESTING"):
        app.logger.removeHandler(default_handler)
        app.logger.handlers[:] = [h for h in app.logger.handlers if not isinstance(h, _Ours)]
        handler = _Ours(sys.stderr)
        handler.setFormatter(formatter)
        app.logger.addHandler(handler)
        app.logger.setLevel(logging.INFO)
        for name in ("gunicorn.error", "engineio.server", "socketio.server"):
            for h in logging.getLogger(name).handlers:
                h.setFormatter(formatter)
        for h in logging.getLogger("gunicorn.access").handlers:
            h.setFormatter(_AccessFormatter(formatter))
    if not event.contains(AuditEvent, "after_insert", _noted):
        event.listen(AuditEvent, "after_insert", _noted)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)


class EngineioQuiet(logging.Filter):
    """engine.io's log without its refused-origin lines and its INFO chatter; its errors pass.

    A refused foreign origin is counted and audited (refusals.py): one row per
    address and minute, with the origins and the count, and that row is logged
    like every audited event. engine.io's own line for it (ERROR once, then
    INFO) would be a second line for the same refusal.
    """

    def filter(self, record):
        if " is not an accepted origin" in record.getMessage():
            return False
        return record.levelno >= logging.WARNING


def _label(app) -> str:
    with app.app_context():
        from . import localtime

        return localtime.zone_label()


class _Ours(logging.StreamHandler):
    """Our stream handler, recognisable when the app is created again."""


class _AccessFormatter(logging.Formatter):
    """gunicorn's access line (its own format) behind our time and level."""

    def __init__(self, ours: Formatter):
        super().__init__()
        self.ours = ours

    def format(self, record):
        if self.ours.as_json:
            return json.dumps(
                {
                    "time": self.ours.stamp(record).isoformat(timespec="milliseconds"),
                    "level": record.levelname,
                    "logger": record.name,
                    "message": record.getMessage(),
                },
                ensure_ascii=False,
            )
        return (
            f"{self.ours.stamp(record):%Y-%m-%d %H:%M:%S} {self.ours.label} {record.getMessage()}"
        )


def event_fields(action, sitting=None, seat=None, attempt=None, **rest) -> dict:
    """The fields of one event line: ``event`` first, then where, then what."""
    return {"event": action, "sitting": sitting, "seat": seat, "attempt": attempt, **rest}


def log_event(action: str, level=logging.INFO, **fields) -> None:
    LOGGER.log(level, action, extra={"cat_fields": event_fields(action, **fields)})


def _noted(_mapper, connection, row) -> None:
    """An audit row was written: keep its line until the transaction commits."""
    data = dict(row.data or {})
    seat = data.pop("seat", None) or data.get("new_seat")
    if row.attempt_id is not None and seat is None:
        seat = _seat_of(connection, row.attempt_id)
    fields = event_fields(
        row.action,
        sitting=row.sitting_id,
        seat=seat,
        attempt=row.attempt_id,
        actor=row.actor,
        reason=row.reason,
        **data,
    )
    _pending().append(fields)


_local = threading.local()


def _pending() -> list:
    # one list per greenlet/thread: a session belongs to one of them at a time
    lines = getattr(_local, "lines", None)
    if lines is None:
        lines = _local.lines = []
    return lines


def _seat_of(connection, attempt_id: int) -> str | None:
    # read in the event's own transaction: a seat move in another process is seen.
    # Audited events are a few per attempt (login, section ends, the finish,
    # proctor actions), never a linear answer: no statement on the hot path.
    return connection.execute(
        sa.select(Seat.label)
        .join(Candidate, Candidate.seat_id == Seat.id)
        .join(Attempt, Attempt.candidate_id == Candidate.id)
        .where(Attempt.id == attempt_id)
    ).scalar()


def _committed(_session) -> None:
    lines, _local.lines = _pending(), []
    for fields in lines:
        LOGGER.info(fields["event"], extra={"cat_fields": fields})


def _rolled_back(_session) -> None:
    _local.lines = []
