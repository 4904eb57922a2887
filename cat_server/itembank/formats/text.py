"""Uploaded bytes to text: UTF-8 with any BOM dropped, or a clear problem saying how to save it."""

from __future__ import annotations

from .problems import Problems


def decode_text(raw: bytes | str, problems: Problems) -> str:
    """UTF-8 text with any BOM removed; a clear error for other encodings."""
    if isinstance(raw, str):
        text = raw
    else:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise problems.fail(
                "the file is UTF-16 (Excel 'Unicode Text'); save it as 'CSV UTF-8' or JSON in UTF-8"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise problems.fail(
                f"the file is not UTF-8 (byte 0x{raw[e.start]:02x} on line {line}); "
                "save it as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')"
            ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise problems.fail("the file is empty")
    return text
