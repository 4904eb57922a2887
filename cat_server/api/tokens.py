"""API tokens: made by an administrator (``cat-server api-token``), stored only as a hash.

A token is 43 random URL-safe characters after ``cat_``; the database keeps its
SHA-256 (a random secret that long needs no slow hash), so a database dump
gives no working token. A token acts as its user: it stops working when the
token is revoked or the user is deactivated or no longer an administrator.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import User, UTCDateTime, audit, utcnow

PREFIX = "cat_"
# last use is written at most this often per token (a busy client is not a write a request)
TOUCH_EVERY = timedelta(minutes=1)


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = db.relationship(User)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenProblem(ValueError):
    """A token cannot be made or revoked as asked; the message says why."""


def create_token(username: str, name: str, actor: str) -> tuple[ApiToken, str]:
    """A new token for an active administrator; the secret is returned once, never stored."""
    user = db.session.execute(
        db.select(User).where(sa.func.lower(User.username) == username.strip().lower())
    ).scalar_one_or_none()
    if user is None:
        raise TokenProblem(f"no user {username!r}")
    if not (user.active and user.is_admin):
        raise TokenProblem(f"{user.username!r} is not an active administrator")
    if not name.strip():
        raise TokenProblem("give the token a name (the system that will use it)")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:200], token_hash=_digest(secret))
    db.session.add(token)
    db.session.flush()
    audit(actor, "api_token_created", token_id=token.id, user_id=user.id, name=token.name)
    db.session.commit()
    return token, secret


def revoke_token(token_id: int, actor: str) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise TokenProblem(f"no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit(actor, "api_token_revoked", token_id=token.id, user_id=token.user_id)
        db.session.commit()
    return token


def list_tokens() -> list[ApiToken]:
    return db.session.execute(db.select(ApiToken).order_by(ApiToken.id)).scalars().all()


def user_for(secret: str) -> tuple[User | None, str]:
    """The user a presented token acts as, or None and why (``unknown``, ``revoked``, ``role``)."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None, "unknown"
    token = db.session.execute(
        db.select(ApiToken).where(ApiToken.token_hash == _digest(secret))
    ).scalar_one_or_none()
    if token is None:
        return None, "unknown"
    if token.revoked_at is not None:
        return None, "revoked"
    user = token.user
    if not (user.active and user.is_admin):
        return None, "role"
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return user, "ok"
