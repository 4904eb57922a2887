"""The app factory: config, extensions, blueprints, the rooms wired together."""

import os
import secrets
from pathlib import Path

from flask import Flask, request
from flask_babel import get_locale
from sqlalchemy import event

from . import bodies, headers, keystrength, localtime, metrics
from .errors import IdConverter
from .extensions import babel, csrf, db, login_manager, migrate, socketio, trust_proxies

LANGUAGES = ("id", "en")  # Bahasa Indonesia first: the default everywhere
LANG_COOKIE = "lang"
# In a checkout cat_server/static is a link to the repository's static/; a wheel
# (``pip install .``) carries the files themselves there (pyproject's package-data).
STATIC_DIR = Path(__file__).resolve().parent / "static"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_app(test_config=None, *, command_line=False):
    """Create and configure the app.

    Refuses (InsecureSecretKey) a missing, public or short secret key unless
    TESTING; ``command_line`` (a ``cat-server`` command that serves nobody for
    long) gets a random key of its own when none is set.
    """
    app = Flask(
        "cat_server",
        instance_relative_config=True,
        static_folder=str(STATIC_DIR),
        # CAT_INSTANCE_PATH: the folder of config.py, the SQLite file, media, calibration
        # runs (production: /var/lib/cat-server); else Flask's (instance/ in a checkout)
        instance_path=os.environ.get("CAT_INSTANCE_PATH") or None,
    )
    app.url_map.converters["int"] = IdConverter  # before any route: ids past MAX_ID are 404
    bodies.init_app(app)  # body limits by endpoint and role: 1 MiB, an admin's uploads 64 MiB
    app.config.from_object("cat_server.config.Defaults")
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("CAT")
        if "CAT_SECRET_KEY" in os.environ:  # as written: from_prefixed_env parses JSON
            app.config["SECRET_KEY"] = os.environ["CAT_SECRET_KEY"]
    else:
        app.config.update(test_config)
    check_secret_key(app, command_line)
    app.config["SOCKETIO_CHANNEL"] = socketio_channel(app.config)
    localtime.init_app(app)  # CAT_TIMEZONE checked now; the templates' |local filters
    _configure_database(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    login_manager.init_app(app)
    csrf.init_app(app)
    _init_babel(app)
    socketio.init_app(
        app,
        **_message_queue(app),
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        # None = same origin only (Origin must match Host): a foreign page cannot open a
        # socket. ([] would switch the Origin check OFF in python-engineio.)
        cors_allowed_origins=None,
        ping_interval=app.config["SOCKETIO_PING_INTERVAL"],
        ping_timeout=app.config["SOCKETIO_PING_TIMEOUT"],
        serializer=metrics.StampedPacket,  # answers carry when they were read (ack latency)
    )
    from . import logs, txn
    from .realtime import SocketSessionInterface, match_socket_path

    logs.init_app(app)  # after Socket.IO: its engine.io logger is set up by then

    app.session_interface = SocketSessionInterface()
    match_socket_path(app)
    txn.init_app(app)  # under gevent: group commit (SQLite), the answer lane (PostgreSQL)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    from . import (
        admission,
        auth,
        cli,
        errors,
        exam,
        proctor,
        refusals,
        socket_limits,
        staff_sessions,
        static_versions,
    )
    from .exam import chain

    errors.init_app(app)
    static_versions.init_app(app)  # /static/...?v=<hash>: an upgrade reaches browsers at once
    chain.init_app(app)  # CAT_CHAIN_KEY, or instance/chain_key made once
    app.register_blueprint(auth.bp)
    app.register_blueprint(exam.bp)
    app.register_blueprint(proctor.bp, url_prefix="/proctor")
    from . import admin
    from .extensions import init_limiter

    init_limiter(app)  # login limits (auth.login, exam.login)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    from . import api

    app.register_blueprint(api.bp, url_prefix="/api/v1")  # docs/api.md: bearer tokens
    app.register_blueprint(proctor.board.bp)  # /board/<sitting>: public, read-only
    from .results import routes as results_routes

    app.register_blueprint(results_routes.bp, url_prefix="/admin/results")  # docs/results.md
    app.register_blueprint(results_routes.api_bp)  # POST /api/v1/results: signed bundles
    from .issuer import routes as issuer_routes

    app.register_blueprint(issuer_routes.api_bp)  # POST /api/v1/releases: issuer mode only
    proctor.feed.init_app(app)  # the exam side's announced seats reach the proctor screens
    proctor.sessions.init_app(app)  # a staff logout ends the user's open consoles
    staff_sessions.init_app(app)  # staff activity, by the server's clock (idle time-out)
    cli.init_app(app)
    metrics.init_app(app)  # /metrics for the centre's monitoring (CAT_METRICS_ALLOW / _TOKEN)
    refusals.init_app(app)  # 503s and foreign origins, counted per address and minute
    admission.init_app(app)  # logins beyond CAT_MAX_LOGINS_IN_FLIGHT: 503 + Retry-After
    socket_limits.init_app(app)  # engine.io sessions per address and in all
    trust_proxies(app)  # CAT_TRUSTED_PROXIES: ProxyFix, Socket.IO included
    headers.init_app(app)  # outermost: security headers on every answer, engine.io's too
    return app


class InsecureSecretKey(RuntimeError):
    """The secret key would let anyone sign a session cookie."""


# Keys this project ever shipped or printed as an example: public, whatever their length.
PUBLIC_SECRET_KEYS = frozenset(
    {
        "dev-only-change-me",
        "change-me",
        "changeme",
        "secret",
        "test-secret",
        "e2e-secret",
        "load-test",
        "...",
    }
)
MIN_SECRET_KEY_BYTES = 32
MAKE_A_KEY = (
    f"Make one with\n    {keystrength.MAKE_A_KEY}\n"
    "and set it as CAT_SECRET_KEY (the same on every process of the centre, e.g. in "
    "/etc/cat-server/env; docs/deploy/README.md)."
)


def check_secret_key(app, command_line: bool = False) -> None:
    """Refuse a key that is missing, public, shorter than 32 bytes or patterned (not TESTING).

    The session cookie is signed with it: with a known key anyone can write a
    cookie for any attempt id and answer for that candidate without a PIN.
    Patterned: ``'a' * 32``, ``'0123456789' * 4``, a word repeated
    (keystrength.py).
    """
    if app.config.get("TESTING"):
        return
    key = app.config.get("SECRET_KEY")
    if not key and command_line:
        # signs nothing that outlives this command
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    if not key:
        problem = "CAT_SECRET_KEY is not set."
    elif str(key) in PUBLIC_SECRET_KEYS:
        problem = "CAT_SECRET_KEY is a published example value."
    elif len(key.encode() if isinstance(key, str) else bytes(key)) < MIN_SECRET_KEY_BYTES:
        problem = f"CAT_SECRET_KEY is shorter than {MIN_SECRET_KEY_BYTES} bytes."
    elif weak := keystrength.weakness(key):
        problem = f"CAT_SECRET_KEY is too easy to guess: {weak}."
    else:
        return
    raise InsecureSecretKey(
        f"Refusing to start: {problem} It signs every session cookie, "
        f"so it must be secret and long. {MAKE_A_KEY}"
    )


def socketio_channel(config) -> str:
    """CAT_SOCKETIO_CHANNEL, or one named for the Redis db (pub/sub ignores db numbers)."""
    if config.get("SOCKETIO_CHANNEL"):
        return config["SOCKETIO_CHANNEL"]
    from redis.connection import parse_url

    url = config.get("REDIS_URL")
    db_number = int(parse_url(url).get("db", 0) or 0) if url else 0
    return "cat-server" if db_number == 0 else f"cat-server-db{db_number}"


def _message_queue(app) -> dict:
    """Socket.IO options joining several processes through Redis (none when alone).

    Flask-SocketIO would build the RedisManager itself but passes no Redis
    options, so we build it: the subscriber holds one connection for good and
    every emit from any greenlet borrows one for its publish. The pool gets an
    explicit bound (CAT_REDIS_MAX_CONNECTIONS, default 64; redis-py's own
    default is unbounded) and keepalive with health checks, so a burst of
    greenlets cannot open thousands of Redis connections and a half-dead one is
    noticed before a publish is lost.
    """
    url = app.config["REDIS_URL"]
    if not url:
        return {}
    import socketio as socketio_server

    options = {
        "max_connections": int(app.config.get("REDIS_MAX_CONNECTIONS", 64)),
        "socket_keepalive": True,
        "health_check_interval": 30,
    }
    return {
        "client_manager": socketio_server.RedisManager(
            url, channel=app.config["SOCKETIO_CHANNEL"], redis_options=options
        )
    }


def _init_babel(app):
    """Bahasa Indonesia unless the visitor chose English with the id | en switch.

    ``?lang=en`` (or ``id``) on any page sets a year-long cookie, so a
    workstation keeps its choice across logins and reloads.
    """
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "id")
    babel.init_app(app, locale_selector=_select_locale)

    @app.after_request
    def _remember_language(response):
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
            response.set_cookie(
                LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
            )
        return response

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "lang": str(get_locale() or LANGUAGES[0])}


def _select_locale():
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else LANGUAGES[0]


def _configure_database(app):
    """CAT_DATABASE_URL wins; the default is a SQLite file in the instance folder."""
    url = app.config.get("DATABASE_URL") or app.config.get("SQLALCHEMY_DATABASE_URI")
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(app.instance_path) / 'cat_server.db'}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        # One connection, shared in turn: SQLite has one writer anyway, and a
        # second connection waiting on SQLite's busy lock would block the
        # gevent hub; waiting on the pool instead yields to other greenlets.
        options.setdefault("pool_size", 1)
        options.setdefault("max_overflow", 0)
        options.setdefault("pool_timeout", 30)
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        # No pre-ping: it cost every socket event one more round trip. After a
        # database restart the first statement on a dead connection fails (an
        # answer gets "retry"), and SQLAlchemy then drops every older pooled
        # connection at once, so one failure per process, not one per connection.
        options.setdefault("pool_pre_ping", False)
        options.setdefault("pool_recycle", 1800)
        # 20 kept open: under a burst the overflow connections were opened and
        # closed again many times a second (a PostgreSQL fork each).
        options.setdefault("pool_size", 20)
        options.setdefault("max_overflow", 10)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _sqlite_pragmas(dbapi_connection, _record):
    """WAL for concurrent readers, FULL sync so an acknowledged commit survives power loss."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
