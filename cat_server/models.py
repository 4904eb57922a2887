"""Models shared by every room: banks, exams, sittings, attempts, audit, users.

All times are UTC from the server clock (``utcnow``), stored without zone on
SQLite and with zone on PostgreSQL, always returned zone-aware.
"""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    """The server clock: every deadline and timestamp comes from here."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """A random token for session cookies; replacing it makes every older cookie useless."""
    return secrets.token_urlsafe(16)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp that is always UTC and always zone-aware in Python."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use models.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(UserMixin, db.Model):
    """An administrator or proctor; candidates are ``Candidate`` rows."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))  # admin | proctor
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # carried by every session cookie of the user; a new one (logout, deactivation, role
    # or password change, idle time-out) ends every session at once (staff_sessions.py)
    session_token: Mapped[str] = mapped_column(
        sa.String(32), default=new_session_token, server_default=""
    )
    # the user's last request or open console, by the server's clock: the idle time-out
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.CheckConstraint("role IN ('admin', 'proctor')", name="role"),)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        """The session's user id with the user's session token (load_user checks both)."""
        return f"{self.id}:{self.session_token}"


# Usernames are unique ignoring case: "Pengawas1" cannot join "pengawas1" (login ignores case).
sa.Index("uq_user_lower_username", sa.func.lower(User.username), unique=True)


class ItemBank(db.Model):
    """One imported version of a bank; a new import is a new version."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(default=1)
    source_filename: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[Item]] = relationship(back_populates="bank", order_by="Item.position")

    __table_args__ = (sa.UniqueConstraint("name", "version"),)


class Item(db.Model):
    """A soal. ``key``, ``option_scores`` and the parameters never leave the server."""

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("item_bank.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))  # the file's item_id
    position: Mapped[int]
    section: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str] = mapped_column(sa.String(8))
    a: Mapped[float] = mapped_column(default=1.0)
    b: Mapped[float | None]
    c: Mapped[float] = mapped_column(default=0.0)
    d: Mapped[float] = mapped_column(default=1.0)
    thresholds: Mapped[list | None] = mapped_column(sa.JSON)
    stem: Mapped[str] = mapped_column(sa.Text)
    options: Mapped[list] = mapped_column(sa.JSON)
    key: Mapped[str | None] = mapped_column(sa.String(1))
    option_scores: Mapped[list | None] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")
    enemy_group: Mapped[str | None] = mapped_column(sa.String(64))
    media: Mapped[str | None] = mapped_column(sa.String(300))

    bank: Mapped[ItemBank] = relationship(back_populates="items")

    __table_args__ = (
        sa.UniqueConstraint("bank_id", "code"),
        sa.CheckConstraint("status IN ('active', 'pretest', 'retired')", name="status"),
    )

    def score_choice(self, choice: str, points_correct: int) -> int:
        """Points for ``choice`` (a letter A..): 5/0 keyed, or the option's own score."""
        index = ord(choice) - ord("A")
        if self.option_scores is not None:
            return int(self.option_scores[index])
        return points_correct if choice == self.key else 0

    def to_public(self) -> dict:
        """What a candidate's browser may see: never key, scores or parameters.

        An item with media says only which kind (``image`` or ``audio``); the
        page fetches it by the item's id (never by file name, which could tell).
        """
        public = {
            "id": self.id,
            "stem": self.stem,
            "options": [
                {"label": chr(ord("A") + i), "text": text} for i, text in enumerate(self.options)
            ],
        }
        if self.media:
            audio = self.media.lower().endswith((".mp3", ".ogg", ".wav", ".m4a"))
            public["media"] = "audio" if audio else "image"
        return public


class Exam(db.Model):
    """A blueprint: ordered sections drawn from one bank, and the time allowed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("item_bank.id"))
    duration_s: Mapped[int]
    show_result: Mapped[bool] = mapped_column(default=True)
    # what the candidate sees at the end (show_result: not "none"): "sections" (each
    # section's score and pass mark, the total, pass/fail) or "total" (the total, pass/fail)
    result_view: Mapped[str] = mapped_column(
        sa.String(10), default="sections", server_default="sections"
    )
    # a candidate who logs in after the sitting started: "full" time, or only what is
    # "remaining" of the sitting's own time (exam/clock.py, sitting_deadline)
    late_login: Mapped[str] = mapped_column(sa.String(10), default="full", server_default="full")
    pass_total: Mapped[int | None]
    # public score board in the waiting hall (/board/<sitting>): off unless turned on;
    # board_fields: a subset of proctor.board.FIELDS (None: the default fields)
    board_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    board_fields: Mapped[list | None] = mapped_column(sa.JSON)

    bank: Mapped[ItemBank] = relationship()
    sections: Mapped[list[ExamSection]] = relationship(
        back_populates="exam", order_by="ExamSection.position"
    )


def pretest_cap(n_items: int, rate: float) -> int:
    r"""Most pretest items of a section seeding at ``rate``: :math:`\lceil n r / (1 - r) \rceil`.

    With :math:`n` operational items, a share :math:`r` of all presented items is
    :math:`n r / (1 - r)` pretest items; the cap is that, rounded up.
    """
    return math.ceil(round(n_items * rate / (1.0 - rate), 9))


class ExamSection(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(sa.ForeignKey("exam.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(sa.String(32))  # the items' section tag
    name: Mapped[str] = mapped_column(sa.String(200))
    mode: Mapped[str] = mapped_column(sa.String(10), default="fixed")  # fixed | adaptive
    n_items: Mapped[int]
    points_correct: Mapped[int] = mapped_column(default=5)
    pass_mark: Mapped[int | None]
    # fixed sections: all items at once, free order, answers changeable (SKD style)
    navigable: Mapped[bool] = mapped_column(default=False)
    # fixed sections: each candidate gets the items in an order of their own
    shuffle: Mapped[bool] = mapped_column(default=False)
    # adaptive sections: stop at se_target after min_items, at n_items at most
    min_items: Mapped[int | None]
    se_target: Mapped[float | None]
    # adaptive: content targets over the pool's tags, {"TWK": [min, max]} or {"TWK": 0.5}
    content: Mapped[dict | None] = mapped_column(sa.JSON)
    randomesque_k: Mapped[int] = mapped_column(default=5)
    # minutes this section may take once it begins (capped by the exam's time);
    # None: only the whole exam's time applies
    time_limit_min: Mapped[int | None]
    # how a fixed section draws its items (docs/formats.md, exam files), None: the first
    # n_items of the pool (a shuffle of its own with ``shuffle``). Keys: "pool" (tags,
    # instead of ``code``'s), "type": "pool" | "per_tag" ("counts": {tag: n}) | "items"
    # ("items": [item ids]) | "forms" ("forms": [[item ids], ...], one per attempt)
    selection: Mapped[dict | None] = mapped_column(sa.JSON)
    # each candidate sees every item's options in an order of their own (answers are
    # stored with the bank's letters; exam/catalog.py, option_order)
    shuffle_options: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # adaptive sections: engine settings beyond the columns above: "start_theta",
    # "selection" (mfi | pwi | kl), "classification" ({"method": "sprt" | "ci", "cut": theta})
    engine: Mapped[dict | None] = mapped_column(sa.JSON)

    exam: Mapped[Exam] = relationship(back_populates="sections")

    @property
    def pretest_rate(self) -> float:
        """Share of an adaptive section's items that are pretest, drawn item by item (0: none)."""
        return (
            float((self.engine or {}).get("pretest_rate", 0.0)) if self.mode == "adaptive" else 0.0
        )

    @property
    def pretest_items(self) -> int:
        """Pretest items an adaptive section seeds into each attempt, at most (unscored; 0: none).

        A number (``engine["pretest"]``), or with a rate what ``n_items`` operational
        items bring at that share (:func:`pretest_cap`).
        """
        if self.mode != "adaptive":
            return 0
        if self.pretest_rate:
            return pretest_cap(self.n_items, self.pretest_rate)
        return int((self.engine or {}).get("pretest", 0))

    @property
    def pool_tags(self) -> list[str]:
        """The item tags this section draws from: ``code``, or ``"TWK,TIU"`` for a mixed pool.

        An exam file may name the pool apart from the code (``selection["pool"]``).
        """
        if self.selection and self.selection.get("pool"):
            return list(self.selection["pool"])
        return [tag.strip() for tag in self.code.split(",") if tag.strip()]

    @property
    def scaled(self) -> bool:
        """Adaptive sections report a scaled score, 50 + 10 theta (a T-score)."""
        return self.mode == "adaptive"


sitting_proctor = sa.Table(
    "sitting_proctor",
    db.metadata,
    sa.Column("sitting_id", sa.ForeignKey("sitting.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("user.id"), primary_key=True),
)


class Sitting(db.Model):
    """A sesi: one exam in one room at one time, with its seats and candidates."""

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(sa.ForeignKey("exam.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    room: Mapped[str] = mapped_column(sa.String(100), default="")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # scheduled (check-in closed) | open (candidates log in and wait) | started | ended
    status: Mapped[str] = mapped_column(sa.String(10), default="scheduled")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set while a proctor has paused the whole sitting (status stays "started")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # a sealed package's exam: the slot (named in the package) whose release code opens it
    package_slot: Mapped[str | None] = mapped_column(sa.String(40))

    exam: Mapped[Exam] = relationship()
    seats: Mapped[list[Seat]] = relationship(back_populates="sitting", order_by="Seat.position")
    proctors: Mapped[list[User]] = relationship(secondary=sitting_proctor)

    __table_args__ = (
        sa.CheckConstraint("status IN ('scheduled', 'open', 'started', 'ended')", name="status"),
    )


class Seat(db.Model):
    """A workstation in the sitting's room."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(sa.ForeignKey("sitting.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[int]

    sitting: Mapped[Sitting] = relationship(back_populates="seats")

    __table_args__ = (sa.UniqueConstraint("sitting_id", "label"),)


class Candidate(db.Model):
    """A peserta enrolled in one sitting, logging in with registration number + PIN."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(sa.ForeignKey("sitting.id"), index=True)
    registration_no: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    birth_date: Mapped[str | None] = mapped_column(sa.String(10))
    pin_hash: Mapped[str] = mapped_column(sa.String(255))
    seat_id: Mapped[int | None] = mapped_column(sa.ForeignKey("seat.id"))

    seat: Mapped[Seat | None] = relationship()
    attempt: Mapped[Attempt | None] = relationship(back_populates="candidate", uselist=False)

    __table_args__ = (sa.UniqueConstraint("sitting_id", "registration_no"),)


class Attempt(db.Model):
    """One candidate's exam. Its state can be rebuilt from its presentations and responses.

    ``next_seq`` is the seq of the presentation awaiting an answer (0 before start).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(sa.ForeignKey("sitting.id"), index=True)
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("candidate.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="waiting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finish_reason: Mapped[str | None] = mapped_column(sa.String(20))
    next_seq: Mapped[int] = mapped_column(default=0)
    n_answered: Mapped[int] = mapped_column(default=0)
    n_items: Mapped[int] = mapped_column(default=0)
    total_score: Mapped[int] = mapped_column(default=0)
    section_scores: Mapped[dict | None] = mapped_column(sa.JSON)
    passed: Mapped[bool | None]
    theta: Mapped[float | None]
    se: Mapped[float | None]
    chain_head: Mapped[str] = mapped_column(sa.String(64), default="")
    connected_sid: Mapped[str | None] = mapped_column(sa.String(64))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # 1-based position of the current section; seqs of its items start at section_first_seq
    section_index: Mapped[int] = mapped_column(default=0)
    section_first_seq: Mapped[int] = mapped_column(default=1)
    n_presented: Mapped[int] = mapped_column(default=0)
    n_responses: Mapped[int] = mapped_column(default=0)
    # per-attempt randomness (item order, randomesque): rebuilt identically after a restart
    seed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # the browser's own random id (from the page), to tell a reconnect from a second browser
    connected_device: Mapped[str | None] = mapped_column(sa.String(64))
    # set while a proctor has paused this attempt: its clock stands still, answers are
    # refused; resuming moves deadline_at by the paused time
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # times the workstation page reported the exam tab or window lost focus
    n_focus_lost: Mapped[int] = mapped_column(default=0, server_default="0")
    # the current section's own deadline (sections with a time limit; never after
    # deadline_at); pauses, extensions and downtime credit move it with deadline_at
    section_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # carried by the candidate's session cookie; a new one (logout, PIN reset, seat move,
    # the proctor ending the session, an idle time-out) ends every older cookie at once
    # (exam/sessions.py)
    session_token: Mapped[str] = mapped_column(
        sa.String(32), default=new_session_token, server_default=""
    )

    # the current fixed section's items in order, drawn when it began: a retire or
    # recalibration meanwhile changes no running form (exam/catalog.py); None: adaptive
    form: Mapped[list | None] = mapped_column(sa.JSON)
    # what each adaptive section's score was estimated from, signed with the chain key:
    # {section code: {"items": [[item id, category, model, a, b, c, d, thresholds]], "mac"}}
    # (exam/scoring.py); a later recalibration changes no finished score's check.
    # Loaded with the row (a deferred load cost an adaptive answer 0.8 ms CPU); NULL
    # for attempts without adaptive sections.
    score_basis: Mapped[dict | None] = mapped_column(sa.JSON)

    candidate: Mapped[Candidate] = relationship(back_populates="attempt")
    sitting: Mapped[Sitting] = relationship()

    __table_args__ = (
        sa.CheckConstraint("status IN ('waiting', 'in_progress', 'finished')", name="status"),
    )


class Presentation(db.Model):
    """Which item the attempt was shown at which seq."""

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempt.id"))
    seq: Mapped[int]
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item.id"))
    section_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_section.id"))
    presented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    marked: Mapped[bool] = mapped_column(default=False)  # "ragu-ragu": marked for review
    # a pretest item seeded into an adaptive section: its answer is stored (for
    # calibration) but never scored; kept here because the item's status changes later
    pretest: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    __table_args__ = (sa.UniqueConstraint("attempt_id", "seq"),)


class Response(db.Model):
    """A stored answer; ``hash`` chains it to the attempt's previous response.

    Append-only: a changed answer (navigable sections) is a new row for the same
    ``seq``; the row with the highest ``n`` counts.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempt.id"))
    n: Mapped[int]  # 1, 2, ... per attempt: the chain order
    seq: Mapped[int]
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item.id"))
    choice: Mapped[str] = mapped_column(sa.String(1))
    score: Mapped[int]
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.UniqueConstraint("attempt_id", "n"),
        sa.Index("ix_response_attempt_seq", "attempt_id", "seq"),
    )


class AuditEvent(db.Model):
    """Append-only: every state change of attempts, sittings, banks and users."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(120))  # "user:3", "candidate:17", "server"
    action: Mapped[str] = mapped_column(sa.String(40))
    sitting_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sitting.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attempt.id"), index=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict | None] = mapped_column(sa.JSON)


def audit(actor: str, action: str, *, sitting_id=None, attempt_id=None, reason=None, **data):
    """Add an audit row to the current transaction (the caller commits)."""
    db.session.add(
        AuditEvent(
            actor=actor,
            action=action,
            sitting_id=sitting_id,
            attempt_id=attempt_id,
            reason=reason,
            data=data or None,
        )
    )


class ItemExposure(db.Model):
    """How often each item was presented, across attempts and processes."""

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item.id"), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class CatalogVersion(db.Model):
    """One row: moved on by every retire or recalibration, so each process drops its item caches.

    Read where an item is newly chosen (a section's first items, each adaptive
    pick; exam/catalog.py); the retire waits for the picks under way.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


class Heartbeat(db.Model):
    """The server's pulse, written every few seconds: its gap after a crash is the downtime."""

    name: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Incident(db.Model):
    """A proctor's incident note for a sitting, optionally about one candidate."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(sa.ForeignKey("sitting.id"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("candidate.id"))
    category: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.String(120))  # "user:3"
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    candidate: Mapped[Candidate | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "category IN ('power', 'network', 'hardware', 'health', 'misconduct', 'other')",
            name="category",
        ),
    )


class ExamPackage(db.Model):
    """A sealed exam package as imported: the signed manifest; its items stay encrypted.

    The package's exam and its bank are ordinary rows; the bank's items hold
    only what the manifest shows in the clear (code, section, status, enemy
    group), their content is in ``SealedItem`` (docs/packages.md).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    issuer: Mapped[str] = mapped_column(sa.String(80))  # the issuer key's fingerprint
    version: Mapped[int]
    manifest: Mapped[str] = mapped_column(sa.Text)  # the exact bytes the issuer signed
    signature: Mapped[bytes] = mapped_column(sa.LargeBinary)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("item_bank.id"), unique=True)
    exam_id: Mapped[int] = mapped_column(sa.ForeignKey("exam.id"), unique=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(sa.String(120))

    exam: Mapped[Exam] = relationship()


class SealedItem(db.Model):
    """One item's content, still encrypted under its package's data key (nonce + AES-GCM)."""

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("item.id"), primary_key=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_package.id"), index=True)
    blob: Mapped[bytes] = mapped_column(sa.LargeBinary)
    media_blob: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # its image or audio


class PackageRelease(db.Model):
    """A sitting's release: its package's data key, sealed under the centre's key for it only."""

    sitting_id: Mapped[int] = mapped_column(sa.ForeignKey("sitting.id"), primary_key=True)
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("exam_package.id"), index=True)
    slot: Mapped[str] = mapped_column(sa.String(40))
    sealed_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[str] = mapped_column(sa.String(120))
