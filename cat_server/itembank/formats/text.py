"""Uploaded bytes to text: UTF-8 with any BOM dropped, or a clear problem saying how to save it."""

from __future__ import annotations

from .problems import Problems, _

SAVE_AS = _("UTF-8 (di Excel: 'CSV UTF-8 (Comma delimited)')")


def decode_text(raw: bytes | str, problems: Problems) -> str:
    """UTF-8 text with any BOM removed; a clear error for other encodings and binary files."""
    if isinstance(raw, str):
        text = raw
    else:
        if raw.startswith(b"PK\x03\x04"):
            raise problems.fail(
                _(
                    "ini workbook XLSX atau zip, bukan berkas teks; simpan sheet-nya sebagai "
                    "%(save_as)s",
                    save_as=SAVE_AS,
                )
            )
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise problems.fail(
                _(
                    "berkas ini UTF-16 (Excel 'Unicode Text'); simpan sebagai %(save_as)s",
                    save_as=SAVE_AS,
                )
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise problems.fail(
                _(
                    "berkas ini bukan UTF-8 (byte %(byte)s di baris %(line)s); "
                    "simpan sebagai %(save_as)s",
                    byte=f"0x{raw[e.start]:02x}",
                    line=line,
                    save_as=SAVE_AS,
                )
            ) from None
    if "\x00" in text:  # no text file has one; PostgreSQL could not store it either
        line = text.count("\n", 0, text.index("\x00")) + 1
        what = (
            _("UTF-16 tanpa penanda urutan byte (BOM)")
            if text.count("\x00") * 3 > len(text)
            else _("rusak atau bukan teks")
        )
        raise problems.fail(
            _(
                "berkas memuat byte NUL (yang pertama di baris %(line)s): berkas ini %(what)s; "
                "simpan sebagai %(save_as)s",
                line=line,
                what=what,
                save_as=SAVE_AS,
            )
        )
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise problems.fail(_("berkas kosong"))
    return text
