"""XLSX bank files (sheet "items", or the first): read into records and write; needs openpyxl."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from typing import Any

from .columns import COLUMNS, Record
from .problems import Problems, _
from .table import rows_to_records

# An XLSX bank unpacks to about 1 KiB an item; 64 MiB is far beyond any real bank.
MAX_XLSX_UNPACKED = 64 * 1024 * 1024
# Cells read, blank ones included: 100 000 items of 26 columns is 2.6 million.
MAX_XLSX_CELLS = 10_000_000


def read_xlsx_records(path_or_file, problems: Problems) -> list[Record]:
    try:
        import openpyxl
    except ImportError:
        raise problems.fail(
            _(
                "membaca XLSX butuh openpyxl (pip install openpyxl); atau simpan sheet-nya "
                "sebagai CSV UTF-8"
            )
        ) from None
    import openpyxl.xml

    if not openpyxl.xml.DEFUSEDXML:  # without it a workbook's DTD could read local files
        raise problems.fail(_("membaca XLSX butuh defusedxml (pip install defusedxml)"))
    _check_xlsx_size(path_or_file, problems)
    try:
        workbook = openpyxl.load_workbook(path_or_file, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged or non-XLSX file
        raise problems.fail(
            _("ini bukan workbook XLSX yang terbaca (%(reason)s)", reason=str(e))
        ) from None
    try:
        sheets = workbook.worksheets  # not chart sheets; a sheet whose part is missing is left out
        if not sheets:
            raise problems.fail(
                _("workbook tidak punya worksheet; taruh soal di sheet bernama 'items'")
            )
        sheet = next((s for s in sheets if s.title == "items"), sheets[0])
        # The size a workbook records can be stale (openpyxl would drop the rows and columns
        # past it) or a lie (A1:XFD1048576 pads every row to 16384 cells): read the cells
        # that are there, within a budget.
        sheet.reset_dimensions()
        return rows_to_records(_rows_within_budget(sheet, problems), problems)
    finally:
        workbook.close()


def _rows_within_budget(sheet, problems: Problems) -> Iterator[list[Any]]:
    """Each row up to its last cell; refused once the sheet passes MAX_XLSX_CELLS cells."""
    cells = 0
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells += len(row)
        if cells > MAX_XLSX_CELLS:
            raise problems.fail(
                _(
                    "sheet terlalu besar: lebih dari %(limit)s sel pada baris %(row)s "
                    "(sampai kolom %(width)s); bank soal butuh %(n)s kolom, jadi hapus kolom "
                    "dan baris yang tidak dipakai, atau simpan sebagai CSV",
                    limit=f"{MAX_XLSX_CELLS:,}",
                    row=number,
                    width=len(row),
                    n=len(COLUMNS),
                )
            )
        yield list(row)


def _check_xlsx_size(path_or_file, problems: Problems) -> None:
    """An XLSX is a zip: refuse one that unpacks to more than MAX_XLSX_UNPACKED (a zip bomb)
    before openpyxl reads it (it holds the shared strings in memory)."""
    try:
        with zipfile.ZipFile(path_or_file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # openpyxl names the damage
    finally:
        if hasattr(path_or_file, "seek"):
            path_or_file.seek(0)
    if unpacked > MAX_XLSX_UNPACKED:
        raise problems.fail(
            _(
                "workbook terurai menjadi %(size)s MiB; paling banyak %(limit)s MiB "
                "(simpan bank soal besar sebagai CSV)",
                size=unpacked // (1024 * 1024),
                limit=MAX_XLSX_UNPACKED // (1024 * 1024),
            )
        )


def write_xlsx(records: list[dict[str, Any]], file) -> None:
    try:
        import openpyxl
    except ImportError:
        name = (
            os.path.basename(os.fspath(file))
            if isinstance(file, str | os.PathLike)
            else "<item bank>"
        )
        raise Problems(name).fail(_("membaca XLSX butuh openpyxl (pip install openpyxl)")) from None
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "items"
    sheet.append(list(COLUMNS))
    for record in records:
        sheet.append([record.get(c) for c in COLUMNS])
    for cells in sheet.iter_rows(min_row=2):  # "=..." is item text, never a formula
        for cell in cells:
            if cell.data_type == "f":
                cell.data_type = "s"
    workbook.save(file)
