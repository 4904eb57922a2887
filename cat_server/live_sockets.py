"""Which Socket.IO connections are live: on this process, or on any other joined by Redis.

"One live workstation per attempt" (exam/presence.py) asks whether the socket
that holds an attempt is still connected. python-socketio knows only this
process's sockets, and with nginx spreading a room over several processes the
holder is usually on another one. So with ``REDIS_URL`` set every process
keeps a key per live socket in Redis (``<SOCKETIO_CHANNEL>:live:<sid>``),
written when the socket connects, refreshed every ``LIVE_REFRESH_S`` and
deleted when it goes; a process that dies leaves keys that expire after
``LIVE_TTL_S``. Alone (no Redis) the process's own view is the whole truth.

A socket's key holds the id of its process, and every process beats its own
key (``<SOCKETIO_CHANNEL>:process:<id>``, the time) each ``PROCESS_BEAT_S``.
A process that missed ``PROCESS_DEAD_AFTER_S`` of beats is dead: its sockets
are not live, and a workstation it held that comes back elsewhere knows since
when it was cut off (``lost_since``: the clock credits those seconds).
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime

import redis
from flask import current_app

from .extensions import socketio

LIVE_TTL_S = 30
LIVE_REFRESH_S = 10
PROCESS_BEAT_S = 1.0
PROCESS_DEAD_AFTER_S = 3.0
PROCESS_KEY_TTL_S = 3600

_process = (None, "")


def process_id() -> str:
    """This process's id (16 hex digits), new in every process (a fork gets its own)."""
    global _process
    if _process[0] != os.getpid():
        _process = (os.getpid(), secrets.token_hex(8))
    return _process[1]


def _redis():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("cat_live_redis")
    if client is None:
        client = current_app.extensions["cat_live_redis"] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
    return client


def _key(sid: str) -> str:
    return f"{current_app.config['SOCKETIO_CHANNEL']}:live:{sid}"


def _process_key(process: str) -> str:
    return f"{current_app.config['SOCKETIO_CHANNEL']}:process:{process}"


def beat() -> None:
    """This process is alive now (every PROCESS_BEAT_S, from the background task)."""
    _quietly(
        lambda client: client.set(
            _process_key(process_id()), f"{time.time():.3f}", ex=PROCESS_KEY_TTL_S
        )
    )


def mark(sid: str) -> None:
    """This process holds ``sid`` from now on (call before the connect is accepted)."""
    beat()  # known alive before its first socket
    _quietly(lambda client: client.set(_key(sid), process_id(), ex=LIVE_TTL_S))


def unmark(sid: str) -> None:
    _quietly(lambda client: client.delete(_key(sid)))


def is_live(sid: str, namespace: str) -> bool:
    """True if ``sid`` is connected to ``namespace`` here or (with Redis) on a live process."""
    if socketio.server.manager.is_connected(sid, namespace):
        return True
    holder = _quietly(lambda client: client.get(_key(sid)))
    if holder is None:
        return False
    return _died_at(holder.decode()) is None


def lost_since(sid: str) -> datetime | None:
    """When the process holding ``sid`` was last alive, if it has died since; else None.

    None too without Redis, for a socket of this process, or once the socket's key
    expired (LIVE_TTL_S after its process stopped refreshing it).
    """
    holder = _quietly(lambda client: client.get(_key(sid)))
    if holder is None or holder.decode() == process_id():
        return None
    last = _died_at(holder.decode())
    return datetime.fromtimestamp(last, UTC) if last else None  # 0.0: when is unknown


def _died_at(process: str) -> float | None:
    """The last beat of ``process`` if it is dead (no beat for PROCESS_DEAD_AFTER_S), else None."""
    if len(process) != 16:  # a key of an older release ("1"): alive as far as we know
        return None
    last = _quietly(lambda client: client.get(_process_key(process)))
    if last is None:  # no beat for PROCESS_KEY_TTL_S (or Redis lost it): dead, since unknown
        return 0.0
    last = float(last)
    return last if time.time() - last > PROCESS_DEAD_AFTER_S else None


def _quietly(call):
    """``call(client)``; None without Redis, or (logged) while Redis is away.

    Redis away must not stop a workstation from connecting: the process then
    knows only its own sockets, as a single process always does.
    """
    client = _redis()
    if client is None:
        return None
    try:
        return call(client)
    except redis.RedisError:
        current_app.logger.warning("Redis unavailable: live sockets of other processes unknown")
        return None


def refresh(namespace: str) -> int:
    """Renew the keys of this process's live sockets of ``namespace``; return how many."""
    client = _redis()
    if client is None:
        return 0
    room = socketio.server.manager.rooms.get(namespace, {}).get(None, {})
    sids = list(room)
    if sids:
        with client.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.set(_key(sid), process_id(), ex=LIVE_TTL_S)
            pipe.execute()
    return len(sids)
