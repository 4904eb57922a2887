"""Release codes and released keys: a sitting's package key, from the proctor's code to memory.

The issuer derives one code per (package, slot) from its private key
(:func:`release_code`): 80 random-looking bits in Crockford base32 plus two
check characters. The package carries, for each slot, the data key wrapped
under scrypt(code) (:func:`make_wraps`). At the centre :func:`release`
checks the code's check characters (a typo), opens the sitting's slot wrap
(a wrong code, or one of another slot, is refused with nothing stored), keeps
the key sealed under the centre's key for that sitting only and in this
process's memory. :func:`open_sealed` gives a cached item its content from
that key; a restarted process unseals it again from the database.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from flask import current_app

from ..errors import ExamError
from ..extensions import db
from ..itembank.service import MEDIA_TYPES
from ..localtime import format_local
from ..models import (
    AuditEvent,
    Exam,
    ExamPackage,
    Item,
    PackageRelease,
    SealedItem,
    Sitting,
    audit,
    utcnow,
)
from ..security import off_the_loop
from . import keys
from .package import CONTENT, FORMAT, VERSION, decrypt_item, decrypt_media, slot_starts

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_BYTES = 10  # 80 bits: 16 characters
CHECK_CHARS = 2  # 10 bits: a typo passes unnoticed once in 1024
KDF = {"name": "scrypt", "n": 2**15, "r": 8, "p": 1}  # 32 MiB and ~0.1 s a guess
SLOT_MARGIN = timedelta(minutes=60)  # a sitting starts, and a code opens, this near its slot
WRONG_PER_SITTING = 5  # wrong codes (typos included) a sitting takes per WRONG_WINDOW
WRONG_PER_ACTOR = 10  # and one account (or the CLI) across sittings
WRONG_WINDOW = timedelta(minutes=10)
WRONG_CODE = "package_code_refused"  # the audit action of a wrong code; the code is never kept


class ReleaseRefused(ExamError):
    status = 422
    code = "release_refused"


class TooManyWrongCodes(ReleaseRefused):
    status = 429
    code = "too_many_wrong_codes"


class NotReleased(ExamError):
    status = 409
    code = "not_released"
    message = "Paket soal sesi ini belum dibuka: masukkan kode rilis dari penerbit terlebih dahulu."
    message_en = (
        "This sitting's sealed package is not released: enter the issuer's release code first."
    )


def _context(package_id: str, slot: str) -> bytes:
    return f"{FORMAT} v{VERSION}|{package_id}|slot|{slot}".encode()


def _encode(data: bytes) -> str:
    number, n_chars = int.from_bytes(data, "big"), len(data) * 8 // 5
    return "".join(ALPHABET[(number >> 5 * (n_chars - 1 - i)) & 31] for i in range(n_chars))


def _check(body: str) -> str:
    digest = int.from_bytes(hashlib.sha256(b"cat-server release check|" + body.encode()).digest())
    return "".join(ALPHABET[(digest >> (251 - 5 * i)) & 31] for i in range(CHECK_CHARS))


def release_code(issuer_key, package_id: str, slot: str) -> str:
    """The issuer's code for one slot of one package: ``XXXX-XXXX-XXXX-XXXX-CC``."""
    raw = issuer_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secret = HKDF(
        hashes.SHA256(), CODE_BYTES, salt=None, info=b"release code|" + _context(package_id, slot)
    ).derive(raw)
    text = _encode(secret) + _check(_encode(secret))
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_code(typed: str) -> bytes:
    """The code's 80 bits; ReleaseRefused when it is malformed or its check characters differ."""
    text = "".join(typed.split()).replace("-", "").upper()
    text = text.translate(str.maketrans("OIL", "011"))
    bad = sorted({c for c in text if c not in ALPHABET})
    n_chars = CODE_BYTES * 8 // 5 + CHECK_CHARS
    if bad or len(text) != n_chars:
        raise ReleaseRefused(
            f"Kode rilis harus {n_chars} huruf/angka (tanpa I, L, O, U); "
            f"yang diketik: {len(text)} karakter{' dengan ' + ''.join(bad) if bad else ''}.",
            f"A release code has {n_chars} letters and digits (no U); got {len(text)}"
            f"{' with ' + ''.join(bad) if bad else ''}.",
        )
    body, check = text[:-CHECK_CHARS], text[-CHECK_CHARS:]
    if _check(body) != check:
        raise ReleaseRefused(
            "Kode rilis salah ketik (karakter pemeriksa tidak cocok); baca ulang kodenya.",
            "The release code has a typo (its check characters do not match); read it again.",
        )
    number = sum(ALPHABET.index(c) << 5 * (len(body) - 1 - i) for i, c in enumerate(body))
    return number.to_bytes(CODE_BYTES, "big")


def _wrap_key(secret: bytes, package_id: str, slot: str, kdf: dict) -> bytes:
    salt = hashlib.sha256(b"release salt|" + _context(package_id, slot)).digest()
    return Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(secret)


def make_wraps(issuer_key, data_key: bytes, package_id: str, slots: list[str]) -> dict:
    """The manifest's ``release`` field: the data key wrapped under each slot's code."""
    wraps = {}
    for slot in slots:
        secret = parse_code(release_code(issuer_key, package_id, slot))
        nonce = os.urandom(12)
        box = AESGCM(_wrap_key(secret, package_id, slot, KDF))
        blob = nonce + box.encrypt(nonce, data_key, _context(package_id, slot))
        wraps[slot] = base64.b64encode(blob).decode()
    return {"kdf": dict(KDF), "wraps": wraps}


def unwrap(manifest: dict, slot: str, secret: bytes) -> bytes | None:
    """The data key if ``secret`` is the slot's code, else None."""
    release = manifest["release"]
    blob = base64.b64decode(release["wraps"][slot])
    box = AESGCM(_wrap_key(secret, manifest["package_id"], slot, release["kdf"]))
    try:
        return box.decrypt(blob[:12], blob[12:], _context(manifest["package_id"], slot))
    except InvalidTag:
        return None


class Sealed(ExamError):
    status = 403
    code = "sealed"
    message = "Isi soal paket tersegel tidak dapat dibuka di pusat ujian: hanya kode dan jumlahnya."
    message_en = (
        "A sealed package's item content is not available at the centre: only codes and counts."
    )


def package_of_bank(bank_id: int) -> ExamPackage | None:
    """The package whose items fill this bank, or None for an ordinary bank."""
    return db.session.execute(
        db.select(ExamPackage).where(ExamPackage.bank_id == bank_id)
    ).scalar_one_or_none()


def package_slots(exam_id: int) -> dict[str, datetime] | None:
    """The slots of the package whose exam this is and their signed starts (None: an ordinary exam)."""
    manifest = db.session.execute(
        db.select(ExamPackage.manifest).where(ExamPackage.exam_id == exam_id)
    ).scalar_one_or_none()
    return None if manifest is None else slot_starts(json.loads(manifest))


def slot_time_fits(start: datetime, scheduled_at: datetime) -> bool:
    """Whether a sitting at ``scheduled_at`` may take a slot starting at ``start`` (SLOT_MARGIN)."""
    return abs(scheduled_at - start) <= SLOT_MARGIN


def _check_window(sitting: Sitting, start: datetime, now: datetime) -> None:
    """ReleaseRefused unless now is within (slot start - margin, start + exam time + margin)."""
    exam = db.session.get(Exam, sitting.exam_id)
    opens = start - SLOT_MARGIN
    closes = start + timedelta(seconds=exam.duration_s) + SLOT_MARGIN
    if opens <= now <= closes:
        return
    slot, first, last = sitting.package_slot, format_local(opens), format_local(closes)
    if now < opens:
        raise ReleaseRefused(
            f"Slot {slot} belum dimulai: kode rilis dapat dimasukkan dari {first} sampai {last}.",
            f"Slot {slot} has not begun: its release code is accepted from {first} to {last}.",
        )
    raise ReleaseRefused(
        f"Slot {slot} sudah lewat (kode rilis berlaku sampai {last}); kode slot lama tidak "
        "membuka sesi baru: minta paket dan slot baru dari penerbit.",
        f"Slot {slot} is over (its release code was accepted until {last}); an old slot's "
        "code opens no new sitting: ask the issuer for a new package and slot.",
    )


def _check_budget(sitting_id: int, actor: str, now: datetime) -> None:
    """ReleaseRefused (429, with the wait) after too many wrong codes for the sitting or the actor."""
    since = now - WRONG_WINDOW
    recent = db.select(AuditEvent.at).where(AuditEvent.action == WRONG_CODE, AuditEvent.at > since)
    for where, limit in (
        (AuditEvent.sitting_id == sitting_id, WRONG_PER_SITTING),
        (AuditEvent.actor == actor, WRONG_PER_ACTOR),
    ):
        times = db.session.execute(recent.where(where).order_by(AuditEvent.at)).scalars().all()
        if len(times) >= limit:
            wait = times[len(times) - limit] + WRONG_WINDOW - now
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            window = int(WRONG_WINDOW.total_seconds() // 60)
            raise TooManyWrongCodes(
                f"Terlalu banyak kode rilis salah ({limit} dalam {window} menit): coba lagi "
                f"dalam {minutes} menit, dan baca ulang kodenya dengan penerbit.",
                f"Too many wrong release codes ({limit} in {window} minutes): try again in "
                f"{minutes} minutes, and read the code back with the issuer.",
                retry_after=minutes * 60,
            )


def _refused(sitting: Sitting, actor: str, refusal: ReleaseRefused, kind: str):
    """Audit a wrong code (who, when, sitting, why; never the code), commit, and raise it."""
    db.session.rollback()
    audit(actor, WRONG_CODE, sitting_id=sitting.id, reason=kind, slot=sitting.package_slot)
    db.session.commit()
    raise refusal


def package_of(sitting: Sitting) -> ExamPackage | None:
    return db.session.execute(
        db.select(ExamPackage).where(ExamPackage.exam_id == sitting.exam_id)
    ).scalar_one_or_none()


def release(sitting_id: int, typed: str, actor: str, via: str = "typed") -> PackageRelease:
    """Check the code against the sitting's slot; seal the key for this sitting; audit. All or nothing.

    ``via`` says how the code came: ``typed`` by the proctor or ``fetched`` from the issuer
    (sealed/fetch.py); both take this same path. Refused outside the slot's window (start -
    60 min to start + exam time + 60 min) and after WRONG_PER_SITTING wrong codes in
    WRONG_WINDOW (WRONG_PER_ACTOR for one account); every wrong code, a typo included, is
    audited without the code.
    """
    sitting = db.session.get(Sitting, sitting_id)
    package = package_of(sitting) if sitting is not None else None
    if package is None:
        raise ReleaseRefused(
            "Sesi ini tidak memakai paket soal tersegel.", "This sitting uses no sealed package."
        )
    if sitting.status == "ended":
        raise ReleaseRefused("Sesi ini sudah ditutup.", "This sitting has ended.")
    manifest = json.loads(package.manifest)
    if sitting.package_slot not in manifest["release"]["wraps"]:
        raise ReleaseRefused(
            f"Sesi ini tidak menyebut slot paket {package.package_id}; jadwalkan ulang dengan slotnya.",
            f"This sitting names no slot of package {package.package_id}; schedule it with one.",
        )
    now = utcnow()
    _check_window(sitting, slot_starts(manifest)[sitting.package_slot], now)
    _check_budget(sitting.id, actor, now)
    try:
        secret = parse_code(typed)
    except ReleaseRefused as typo:  # cheap (no scrypt), but counted: a typo is a wrong code
        _refused(sitting, actor, typo, "typo")
    # scrypt (32 MiB, ~0.1 s of CPU) beside the event loop, as argon2 is: a guess stalls no seat
    data_key = off_the_loop(unwrap, manifest, sitting.package_slot, secret)
    if data_key is None:
        other = next(
            (s for s in manifest["release"]["wraps"] if s != sitting.package_slot
             and off_the_loop(unwrap, manifest, s, secret) is not None),
            None,
        )  # fmt: skip
        if other is not None:
            _refused(
                sitting,
                actor,
                ReleaseRefused(
                    f"Kode ini untuk slot {other}, bukan slot sesi ini ({sitting.package_slot}).",
                    f"This code is for slot {other}, not this sitting's slot "
                    f"({sitting.package_slot}).",
                ),
                f"slot {other}",
            )
        _refused(
            sitting,
            actor,
            ReleaseRefused(
                f"Kode rilis tidak membuka paket {package.package_id}: bukan kode paket ini.",
                f"The release code does not open package {package.package_id}: not its code.",
            ),
            "wrong",
        )
    done = db.session.get(PackageRelease, sitting.id)
    if done is not None:  # typed again (a second console): the same release, nothing new
        return done
    try:
        sealed = keys.seal(f"sitting:{sitting.id}", data_key)
    except keys.KeyProblem as problem:  # the code was right; the centre cannot keep the key
        raise ReleaseRefused(
            f"Kode benar, tetapi kunci pusat tidak tersedia: {problem}.",
            f"The code is right, but the centre's key is not available: {problem}.",
        ) from None
    row = PackageRelease(
        sitting_id=sitting.id,
        package_id=package.id,
        slot=sitting.package_slot,
        sealed_key=sealed,
        released_by=actor,
    )
    db.session.add(row)
    audit(
        actor,
        "package_released",
        sitting_id=sitting.id,
        package=package.package_id,
        slot=sitting.package_slot,
        via=via,
    )
    db.session.commit()
    _memory()[package.id] = data_key
    return row


def release_status(sitting: Sitting) -> dict | None:
    """For the console: the sitting's package id, slot and release row (None: no package)."""
    package = package_of(sitting)
    if package is None:
        return None
    released = db.session.get(PackageRelease, sitting.id)
    return {"package_id": package.package_id, "slot": sitting.package_slot, "released": released}


def require_release(sitting: Sitting) -> None:
    """NotReleased if the sitting's exam is a sealed package not released for it."""
    if package_of(sitting) is not None and db.session.get(PackageRelease, sitting.id) is None:
        raise NotReleased()


def _memory() -> dict:
    return current_app.extensions.setdefault("cat_package_keys", {})


def data_key(package_row_id: int) -> bytes | None:
    """The package's data key: from this process's memory, or unsealed from a sitting's release."""
    memory = _memory()
    if package_row_id not in memory:
        row = db.session.execute(
            db.select(PackageRelease).where(PackageRelease.package_id == package_row_id).limit(1)
        ).scalar_one_or_none()
        if row is None:
            return None
        try:
            memory[package_row_id] = keys.unseal(f"sitting:{row.sitting_id}", row.sealed_key)
        except keys.KeyProblem as problem:  # another key file than at the release, or none
            raise NotReleased(
                f"Rilis paket tersimpan tidak terbuka dengan kunci pusat ini: {problem}.",
                f"The stored release does not open with this centre's key: {problem}.",
            ) from None
    return memory[package_row_id]


def open_sealed(item: Item) -> Item:
    """A detached item of a sealed package gets its content, decrypted in memory only.

    Raises NotReleased while no sitting of its package is released. Other items pass unchanged.
    """
    found = db.session.execute(
        db.select(SealedItem.blob, ExamPackage.id, ExamPackage.package_id)
        .join(ExamPackage, ExamPackage.id == SealedItem.package_id)
        .where(SealedItem.item_id == item.id)
    ).first()
    if found is None:
        return item
    blob, package_row_id, package_id = found
    key = data_key(package_row_id)
    if key is None:
        raise NotReleased()
    content = decrypt_item(key, package_id, item.code, blob)
    for name in CONTENT:
        setattr(item, name, content[name])
    item.media = content.get("media")
    return item


def sealed_media(item_id: int) -> tuple[io.BytesIO, str] | None:
    """(the media file decrypted in memory, its content type) of a sealed item; None otherwise.

    Raises NotReleased while no sitting of its package is released.
    """
    found = db.session.execute(
        db.select(SealedItem.blob, SealedItem.media_blob, ExamPackage.id, ExamPackage.package_id)
        .join(ExamPackage, ExamPackage.id == SealedItem.package_id)
        .where(SealedItem.item_id == item_id)
    ).first()
    if found is None or found.media_blob is None:
        return None
    key = data_key(found.id)
    if key is None:
        raise NotReleased()
    code = db.session.get(Item, item_id).code
    name = decrypt_item(key, found.package_id, code, found.blob)["media"]
    data = decrypt_media(key, found.package_id, code, found.media_blob)
    return io.BytesIO(data), MEDIA_TYPES[os.path.splitext(name)[1].lower()]
