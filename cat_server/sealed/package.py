"""The sealed exam package file (``.catpkg``, format version 1): writing one, and verifying one.

A zip of ``manifest.json`` (clear: blueprint, item codes, slots, the SHA-256
of every encrypted part, the release wraps), ``manifest.sig`` (the issuer's
Ed25519 signature over the manifest's exact bytes) and ``items/NNNN.bin``
(one item's content, AES-256-GCM under the package's data key, associated
data binding it to the package id and item code). docs/packages.md has the
fields. :func:`read_package` checks the signature before it reads anything
else, then every part's hash; :class:`PackageRefused` says which check failed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..itembank.formats.zips import DAMAGE
from . import keys

FORMAT = "cat-server-package"
VERSION = 1
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
MAX_PACKAGE_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 20_000
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")  # package ids and slot names
# the item content fields, all secret: what the issuer's bank row holds beyond the clear ones
CONTENT = ("model", "a", "b", "c", "d", "thresholds", "stem", "options", "key", "option_scores")


class PackageRefused(Exception):
    """The package is not imported (or not built); the message says why, for the person at hand."""


def item_aad(package_id: str, code: str) -> bytes:
    return f"{FORMAT} v{VERSION}|{package_id}|item|{code}".encode()


def encrypt_item(data_key: bytes, package_id: str, code: str, content: dict) -> bytes:
    """12-byte nonce + AES-256-GCM ciphertext of the item's content (JSON)."""
    nonce = os.urandom(12)
    plain = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
    return nonce + AESGCM(data_key).encrypt(nonce, plain, item_aad(package_id, code))


def decrypt_item(data_key: bytes, package_id: str, code: str, blob: bytes) -> dict:
    try:
        plain = AESGCM(data_key).decrypt(blob[:12], blob[12:], item_aad(package_id, code))
    except InvalidTag:
        raise PackageRefused(f"item {code} does not open with this package's key") from None
    return json.loads(plain)


def part_name(position: int) -> str:
    return f"items/{position:04d}.bin"


def media_part_name(position: int) -> str:
    return f"media/{position:04d}.bin"


def encrypt_media(data_key: bytes, package_id: str, code: str, data: bytes) -> bytes:
    """12-byte nonce + AES-256-GCM ciphertext of an item's media file, bound to the item."""
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, data, item_aad(package_id, code) + b"|media")


def decrypt_media(data_key: bytes, package_id: str, code: str, blob: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(
            blob[:12], blob[12:], item_aad(package_id, code) + b"|media"
        )
    except InvalidTag:
        raise PackageRefused(f"the media of item {code} do not open with this key") from None


def write_package(manifest: dict, parts: dict[str, bytes], issuer_key) -> bytes:
    """The package file: the manifest (with each part's SHA-256), its signature, the parts."""
    for entry in manifest["items"]:
        entry["sha256"] = hashlib.sha256(parts[entry["part"]]).hexdigest()
        if "media_part" in entry:
            entry["media_sha256"] = hashlib.sha256(parts[entry["media_part"]]).hexdigest()
    body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, body)
        archive.writestr(SIGNATURE, issuer_key.sign(body))
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


@dataclass(frozen=True)
class Package:
    """A verified package: its manifest (bytes as signed, and parsed) and its encrypted parts."""

    manifest_bytes: bytes
    signature: bytes
    manifest: dict
    parts: dict[str, bytes]  # item code -> nonce + ciphertext
    media: dict[str, bytes]  # item code -> nonce + ciphertext of its media file

    @property
    def package_id(self) -> str:
        return self.manifest["package_id"]

    @property
    def slots(self) -> list[str]:
        return [slot["id"] for slot in self.manifest["slots"]]


def slot_start(text) -> datetime | None:
    """A slot's signed ``starts_at``: ISO 8601 with an offset (``2026-12-07T08:00+07:00``); else None."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def slot_starts(manifest: dict) -> dict[str, datetime]:
    """Each slot's id and its start (aware), from a verified manifest."""
    return {slot["id"]: slot_start(slot["starts_at"]) for slot in manifest["slots"]}


def _strict_int(value, where: str, low: int, high: int) -> None:
    # bool is an int in Python and 1.0 == 1: neither is a manifest integer
    if type(value) is not int or not low <= value <= high:
        raise PackageRefused(f"{where} is {value!r}; expected an integer from {low} to {high}")


def _check_fields(manifest: dict, where: str) -> None:
    """The signed manifest's shape: slots with a start, a bounded KDF, strict integers."""
    slots = manifest.get("slots")
    if not isinstance(slots, list) or not slots:
        raise PackageRefused(f"{where}: the manifest names no slots")
    for number, slot in enumerate(slots, start=1):
        ident = slot.get("id") if isinstance(slot, dict) else None
        if not isinstance(ident, str) or not ID_PATTERN.match(ident):
            raise PackageRefused(f"{where}: slots[{number}].id is {ident!r}; expected a slot name")
        if slot_start(slot.get("starts_at")) is None:
            raise PackageRefused(
                f"{where}: slots[{number}] ({ident}).starts_at is {slot.get('starts_at')!r}; "
                "expected ISO 8601 with an offset, e.g. 2026-12-07T08:00+07:00"
            )
    kdf = (manifest.get("release") or {}).get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise PackageRefused(f"{where}: release.kdf is not scrypt")
    _strict_int(kdf.get("n"), f"{where}: release.kdf.n", 2**14, 2**17)
    if kdf["n"] & (kdf["n"] - 1):
        raise PackageRefused(f"{where}: release.kdf.n is {kdf['n']}; expected a power of two")
    _strict_int(kdf.get("r"), f"{where}: release.kdf.r", 1, 16)
    _strict_int(kdf.get("p"), f"{where}: release.kdf.p", 1, 4)
    items = manifest.get("items")
    if not isinstance(items, list) or not all(isinstance(e, dict) for e in items):
        raise PackageRefused(f"{where}: the manifest's items are not a list of objects")


def read_package(data: bytes, issuer_key, where: str = "the package") -> Package:
    """Verify ``data`` against the issuer's public key; PackageRefused names the first failed check.

    Order: a readable zip; the signature over the manifest's bytes (nothing in
    the manifest is believed before); the format and version (a strict
    integer); the issuer; the slots' starts and the KDF's integers; every item
    part present with the SHA-256 the manifest signs; no member it does not name.
    """
    if len(data) > MAX_PACKAGE_BYTES:
        raise PackageRefused(f"{where} is larger than {MAX_PACKAGE_BYTES // 2**20} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise PackageRefused(f"{where} holds {len(members)} files; at most {MAX_MEMBERS}")
        if sum(m.file_size for m in members) > 4 * MAX_PACKAGE_BYTES:
            raise PackageRefused(f"{where} unpacks to more than {4 * MAX_PACKAGE_BYTES} bytes")
        names = {m.filename for m in members}
        for needed in (MANIFEST, SIGNATURE):
            if needed not in names:
                raise PackageRefused(f"{where} has no {needed}: not a sealed exam package")
        files = {m.filename: archive.read(m) for m in members}  # reading checks each CRC
    except PackageRefused:
        raise
    except DAMAGE as error:
        raise PackageRefused(f"{where} is damaged or not a package file ({error})") from None
    body, signature = files[MANIFEST], files[SIGNATURE]
    expected = keys.fingerprint(issuer_key)
    if not keys.verify(issuer_key, signature, body):
        claimed = _claimed_issuer(body)
        raise PackageRefused(
            f"the signature of {where} does not verify against the imported issuer key "
            f"{expected}: the manifest was altered or another key signed it"
            + (f" (it names issuer {claimed})" if claimed and claimed != expected else "")
        )
    manifest = json.loads(body)
    if manifest.get("format") != FORMAT:
        raise PackageRefused(f"{where} is not a {FORMAT} file (format {manifest.get('format')!r})")
    version = manifest.get("version")
    if type(version) is not int or version != VERSION:  # true and 1.0 equal 1 in Python
        raise PackageRefused(
            f"{where} has format version {manifest.get('version')!r}; this server reads "
            f"version {VERSION} only: update cat-server or ask the issuer for a version-{VERSION} "
            "package"
        )
    if manifest.get("issuer") != expected:
        raise PackageRefused(f"{where} names issuer {manifest.get('issuer')}, not {expected}")
    _check_fields(manifest, where)
    parts, media = {}, {}
    for entry in manifest["items"]:
        parts[entry["code"]] = _part(files, entry, "part", "sha256", where)
        if "media_part" in entry:
            media[entry["code"]] = _part(files, entry, "media_part", "media_sha256", where)
    named = {MANIFEST, SIGNATURE}
    named |= {e[k] for e in manifest["items"] for k in ("part", "media_part") if k in e}
    extra = sorted(set(files) - named)
    if extra:  # nothing rides along unsigned
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise PackageRefused(f"{where} holds files the signed manifest does not name: {shown}")
    return Package(body, signature, manifest, parts, media)


def _part(files: dict, entry: dict, name: str, digest: str, where: str) -> bytes:
    blob = files.get(entry[name])
    if blob is None:
        raise PackageRefused(f"{where} lacks {entry[name]} (item {entry['code']})")
    if hashlib.sha256(blob).hexdigest() != entry[digest]:
        raise PackageRefused(
            f"{entry[name]} (item {entry['code']}) in {where} was altered: its SHA-256 "
            "differs from the signed manifest's"
        )
    return blob


def _claimed_issuer(body: bytes) -> str | None:
    try:
        claimed = json.loads(body).get("issuer")
    except (ValueError, AttributeError):
        return None
    return claimed if isinstance(claimed, str) else None
