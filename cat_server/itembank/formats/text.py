"""Uploaded bytes to text: UTF-8 with any BOM dropped, or a clear problem saying how to save it."""

from __future__ import annotations

from .problems import Problems

SAVE_AS = "UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')"


def decode_text(raw: bytes | str, problems: Problems) -> str:
    """UTF-8 text with any BOM removed; a clear error for other encodings and binary files."""
    if isinstance(raw, str):
        text = raw
    else:
        if raw.startswith(b"PK\x03\x04"):
            raise problems.fail(
                f"this is an XLSX workbook or a zip, not a text file; save the sheet as {SAVE_AS}"
            )
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise problems.fail(f"the file is UTF-16 (Excel 'Unicode Text'); save it as {SAVE_AS}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise problems.fail(
                f"the file is not UTF-8 (byte 0x{raw[e.start]:02x} on line {line}); "
                f"save it as {SAVE_AS}"
            ) from None
    if "\x00" in text:  # no text file has one; PostgreSQL could not store it either
        line = text.count("\n", 0, text.index("\x00")) + 1
        what = (
            "UTF-16 without a byte-order mark"
            if text.count("\x00") * 3 > len(text)
            else "damaged or not text"
        )
        raise problems.fail(
            f"the file holds NUL bytes (the first on line {line}): it is {what}; save it as "
            f"{SAVE_AS}"
        )
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise problems.fail("the file is empty")
    return text
