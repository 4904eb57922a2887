"""Extension singletons, bound to the app in create_app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints so Alembic migrations are the same on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
migrate = Migrate()
socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def _limiter_key() -> str:
    """The client's address; behind the centre's proxy, ProxyFix sets remote_addr."""
    from flask_limiter.util import get_remote_address

    return get_remote_address()


# Login limits (staff and candidates; the rules are in lockout.py); storage is
# Redis when CAT_REDIS_URL is set, so every server process of a centre counts
# together; memory otherwise.
# Retry-After is ours (errors.TooManyAttempts): Flask-Limiter's own header
# rounds the window down and would overwrite it one second under the body's
# retry_after (docs/protocol.md, "Too many attempts").
limiter = Limiter(key_func=_limiter_key, default_limits=[], headers_enabled=False)


def trust_proxies(app) -> None:
    """Believe X-Forwarded-For/-Proto from CAT_TRUSTED_PROXIES proxies in front (default 0).

    With 0 the headers are ignored, so a client cannot choose its own address
    for the per-IP login limit; behind nginx set 1 (nginx appends the peer's
    address as the last X-Forwarded-For entry, which is the one believed).
    """
    n = int(app.config.get("TRUSTED_PROXIES") or 0)
    if n > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)


def init_limiter(app) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    # Two deployments on one Redis (a training server beside the live one) keep their
    # counters apart as they keep their messages apart: the prefix is the channel's name.
    app.config.setdefault(
        "RATELIMIT_KEY_PREFIX", app.config.get("SOCKETIO_CHANNEL") or "cat-server"
    )
    limiter.init_app(app)
