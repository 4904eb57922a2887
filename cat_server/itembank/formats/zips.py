"""Zip uploads (a bank with its media, a QTI package): open one and read its members safely.

Whatever is wrong with the archive or a member (not a zip, encrypted, an
unknown compression method, data that does not match its header) becomes a
BankFormatError naming the upload and the member, never an exception of
zipfile's own.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib

from .problems import BankFormatError, BankFormatProblem, Message, _

# Methods zipfile can unpack; others (e.g. 99, AES) are refused with a clear sentence.
METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
# What zipfile and the decompressors raise for damaged data (OSError: bz2; ValueError:
# BytesIO's negative seeks in a mangled directory; RuntimeError, NotImplementedError:
# encryption and methods, checked first but kept here for what the checks cannot see).
DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


def _fail(file: str, message: Message) -> BankFormatError:
    return BankFormatError([BankFormatProblem(file, None, None, message)])


def open_zip(data: bytes, filename: str) -> zipfile.ZipFile:
    """The archive in ``data``; BankFormatError when it is not a readable zip."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except DAMAGE:
        raise _fail(filename, _("bukan berkas .zip yang terbaca")) from None


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> bytes:
    """The member's bytes, never more than its header declares; BankFormatError if unreadable.

    Callers check ``info.file_size`` against their own limits first. Read to the end, so the CRC is checked: a member whose data is longer than
    (or not what) its header says is reported as damaged, not silently cut.
    """
    where = f"{filename}: {info.filename}"
    if info.flag_bits & 0x1:
        raise _fail(where, _("berkas ini terenkripsi; zip ulang berkasnya tanpa kata sandi"))
    if info.compress_type not in METHODS:
        raise _fail(
            where,
            _(
                "metode kompresi %(method)s tidak didukung; zip ulang berkasnya dengan metode "
                "biasa (deflate)",
                method=info.compress_type,
            ),
        )
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except DAMAGE as error:
        raise _fail(
            where,
            _(
                "zip rusak: isi berkas tidak cocok dengan keterangannya di zip (%(error)s)",
                error=str(error),
            ),
        ) from None
    if len(data) > info.file_size:
        raise _fail(where, _("zip rusak: berkas lebih panjang daripada yang tercatat di zip"))
    return data
