"""Configuration defaults; every key can be overridden by a ``CAT_`` environment variable."""

import os


class Defaults:
    # A random key per start would log everyone out on every restart, so the
    # demo and tests pass one; production sets CAT_SECRET_KEY.
    SECRET_KEY = os.environ.get("CAT_SECRET_KEY", "dev-only-change-me")
    # Empty: a SQLite file in the instance folder (create_app fills it in).
    DATABASE_URL = ""
    REDIS_URL = ""
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Starts the coalescing proctor feed and the deadline reaper in the server
    # process; tests turn it off and drive both by hand.
    BACKGROUND_TASKS = True
    # Proctor screens get at most 1 / FEED_INTERVAL messages a second.
    FEED_INTERVAL = 0.25
    REAPER_INTERVAL = 1.0
    # Redis pub/sub channel joining the processes of one centre's server.
    SOCKETIO_CHANNEL = "cat-server"
    SOCKETIO_ASYNC_MODE = None  # auto: gevent under gunicorn, threading in tests
    BABEL_DEFAULT_LOCALE = "id"
