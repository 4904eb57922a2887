"""Which Socket.IO connections are live: on this process, or on any other joined by Redis.

"One live workstation per attempt" (exam/presence.py) asks whether the socket
that holds an attempt is still connected. python-socketio knows only this
process's sockets, and with nginx spreading a room over several processes the
holder is usually on another one. So with ``REDIS_URL`` set every process
keeps a key per live socket in Redis (``<SOCKETIO_CHANNEL>:live:<sid>``),
written when the socket connects, refreshed every ``LIVE_REFRESH_S`` and
deleted when it goes; a process that dies leaves keys that expire after
``LIVE_TTL_S``. Alone (no Redis) the process's own view is the whole truth.
"""

from __future__ import annotations

import redis
from flask import current_app

from .extensions import socketio

LIVE_TTL_S = 30
LIVE_REFRESH_S = 10


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


def mark(sid: str) -> None:
    """This process holds ``sid`` from now on (call before the connect is accepted)."""
    _quietly(lambda client: client.set(_key(sid), "1", ex=LIVE_TTL_S))


def unmark(sid: str) -> None:
    _quietly(lambda client: client.delete(_key(sid)))


def is_live(sid: str, namespace: str) -> bool:
    """True if ``sid`` is connected to ``namespace`` here or (with Redis) on any process."""
    if socketio.server.manager.is_connected(sid, namespace):
        return True
    return bool(_quietly(lambda client: client.exists(_key(sid))))


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
                pipe.set(_key(sid), "1", ex=LIVE_TTL_S)
            pipe.execute()
    return len(sids)
