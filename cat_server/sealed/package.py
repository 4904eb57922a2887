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


def read_package(data: bytes, issuer_key, where: str = "the package") -> Package:
    """Verify ``data`` against the issuer's public key; PackageRefused names the first failed check.

    Order: a readable zip; the signature over the manifest's bytes (nothing in
    the manifest is believed before); the format and version; every item part
    present with the SHA-256 the manifest signs.
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
    if manifest.get("version") != VERSION:
        raise PackageRefused(
            f"{where} has format version {manifest.get('version')!r}; this server reads "
            f"version {VERSION} only: update cat-server or ask the issuer for a version-{VERSION} "
            "package"
        )
    if manifest.get("issuer") != expected:
        raise PackageRefused(f"{where} names issuer {manifest.get('issuer')}, not {expected}")
    parts, media = {}, {}
    for entry in manifest["items"]:
        parts[entry["code"]] = _part(files, entry, "part", "sha256", where)
        if "media_part" in entry:
            media[entry["code"]] = _part(files, entry, "media_part", "media_sha256", where)
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
