"""The print-ready score workbook: a sheet a sitting for A4, signed and hung, plus the data rows.

Each sitting gets a sheet a centre prints as it is: the centre, the sitting, its
day and times in the centre's zone, the exam and its pass marks; one row a
candidate (number, name, each section's score, total, pass/fail where a pass
mark exists, status in words, absent candidates too); a signature block for the
proctor and the head of the UPT. A4, fit to the page width (landscape when the
table is wide), the table's header repeated on every page, page numbers in the
footer. Words are in the page's language (Indonesian in the CLI).

The last sheet, ``scores``, keeps the rows of docs/formats.md exactly as the CSV
has them (``cat-server verify --export`` reads it). Every cell goes through
``spreadsheet.protect_sheet``: names are text, never formulas.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from flask import current_app
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins

from .. import spreadsheet
from ..extensions import db
from ..localtime import DATE, format_local, to_local, zone_label
from ..models import Attempt, Candidate, Sitting, utcnow
from .sittings import _

DATA_SHEET = "scores"
TABLE_ROW = 7  # the table's header row: rows 1-5 say whose list it is
THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="D9D9D9")
# wider than this (in character widths) and the sheet prints landscape
PORTRAIT_WIDTH = 110


def workbook(attempts: list[Attempt], header: Sequence, rows: Sequence[Sequence]) -> bytes:
    """The XLSX: one print sheet a sitting of ``attempts``, then the ``scores`` data sheet.

    ``header`` and ``rows`` are ``scores.score_rows(attempts)``: the data sheet holds them as is.
    """
    book = Workbook()
    book.remove(book.active)
    by_sitting: dict[int, list[Attempt]] = {}
    for attempt in attempts:
        by_sitting.setdefault(attempt.sitting_id, []).append(attempt)
    titles: set[str] = set()
    for sitting_id, its_attempts in by_sitting.items():
        sitting = db.session.get(Sitting, sitting_id)
        sheet = book.create_sheet(_sheet_title(sitting.name, titles))
        print_sheet(sheet, sitting, its_attempts)
    data = book.create_sheet(DATA_SHEET)
    data.append(list(header))
    for row in rows:
        data.append(list(row))
    data.freeze_panes = "A2"
    for sheet in book.worksheets:
        spreadsheet.protect_sheet(sheet)
    book.active = 0
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(name: str, taken: set[str]) -> str:
    """A sheet name Excel takes: at most 31 characters, none of []:*?/\\, unique."""
    base = "".join("-" if c in "[]:*?/\\" else c for c in name).strip("' ") or "Sesi"
    title, n = base[:31], 1
    while title.lower() in taken or title.lower() == DATA_SHEET:
        n += 1
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
    taken.add(title.lower())
    return title


def status_words(attempt: Attempt | None) -> str:
    """The attempt's state as a person says it, in the page's language."""
    if attempt is None:
        return _("Tidak hadir")
    if attempt.status == "finished":
        return {
            "time_up": _("Selesai (waktu habis)"),
            "ended_by_proctor": _("Diakhiri pengawas"),
        }.get(attempt.finish_reason or "", _("Selesai"))
    if attempt.status == "in_progress":
        return _("Mengerjakan")
    return _("Menunggu")


def print_sheet(sheet, sitting: Sitting, attempts: list[Attempt]) -> None:
    """Fill ``sheet`` with one sitting's list and set it up to print on A4."""
    exam = sitting.exam
    sections = list(exam.sections)
    marks = [s for s in sections if s.pass_mark is not None]
    has_pass = bool(marks) or exam.pass_total is not None
    columns = [
        (_("No."), 5),
        (_("Nomor peserta"), 16),
        (_("Nama"), 32),
        *((s.code, max(8, len(s.code) + 2)) for s in sections),
        (_("Total"), 8),
        *([(_("Lulus/Tidak"), 13)] if has_pass else []),
        (_("Status"), 22),
    ]
    width = len(columns)
    last = get_column_letter(width)

    _merged(sheet, 1, width, current_app.config["CENTRE_NAME"], Font(bold=True, size=14))
    _merged(sheet, 2, width, _("Daftar nilai ujian"), Font(bold=True, size=12))
    place = f"{sitting.name}" + (f", {_('ruang')} {sitting.room}" if sitting.room else "")
    _merged(sheet, 3, width, f"{_('Sesi')}: {place}")
    _merged(sheet, 4, width, _when_line(sitting))
    exam_line = f"{_('Ujian')}: {exam.name}. {_('Nilai ambang batas')}: "
    if has_pass:
        parts = [f"{s.code} {s.pass_mark}" for s in marks]
        if exam.pass_total is not None:
            parts.append(f"{_('Total')} {exam.pass_total}")
        exam_line += ", ".join(parts)
    else:
        exam_line += _("tidak ditetapkan")
    _merged(sheet, 5, width, exam_line)

    for k, (title, chars) in enumerate(columns, start=1):
        cell = sheet.cell(TABLE_ROW, k, title)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(k)].width = chars

    row = TABLE_ROW
    for number, (candidate, attempt) in enumerate(_people(sitting, attempts), start=1):
        row += 1
        scores = (attempt.section_scores or {}) if attempt else {}
        values = [number, candidate.registration_no, candidate.name]
        values += [scores.get(s.code, 0) if attempt else "" for s in sections]
        values.append(attempt.total_score if attempt else "")
        if has_pass:
            passed = attempt.passed if attempt else None
            values.append("" if passed is None else (_("Lulus") if passed else _("Tidak lulus")))
        values.append(status_words(attempt))
        for k, value in enumerate(values, start=1):
            cell = sheet.cell(row, k, value)
            cell.border = BOX
            cell.alignment = Alignment(
                horizontal="left" if k in (2, 3) or k == width else "center", vertical="top"
            )
    end = _signatures(sheet, row + 2, width, sitting)

    sheet.freeze_panes = sheet.cell(TABLE_ROW + 1, 1)
    sheet.print_title_rows = f"{TABLE_ROW}:{TABLE_ROW}"
    sheet.print_area = f"A1:{last}{end}"
    setup = sheet.page_setup
    setup.paperSize = sheet.PAPERSIZE_A4
    wide = sum(chars for _title, chars in columns) > PORTRAIT_WIDTH
    setup.orientation = sheet.ORIENTATION_LANDSCAPE if wide else sheet.ORIENTATION_PORTRAIT
    setup.fitToWidth, setup.fitToHeight = 1, 0  # one page wide, as many long as it takes
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.8)
    printed = format_local(utcnow())
    sheet.oddFooter.left.text = _footer(f"{sitting.name}")
    sheet.oddFooter.center.text = _("Halaman &P dari &N")
    sheet.oddFooter.right.text = _footer(f"{_('Dicetak')} {printed}")
    sheet.evenFooter.left.text = sheet.oddFooter.left.text
    sheet.evenFooter.center.text = sheet.oddFooter.center.text
    sheet.evenFooter.right.text = sheet.oddFooter.right.text


def _footer(text: str) -> str:
    return text.replace("&", "&&")  # a lone & starts a footer code (&P, &N)


def _merged(sheet, row: int, width: int, text: str, font: Font | None = None) -> None:
    cell = sheet.cell(row, 1, text)
    if font is not None:
        cell.font = font
    cell.alignment = Alignment(horizontal="left", vertical="center")
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)


def _when_line(sitting: Sitting) -> str:
    """The day and times: "Tanggal: 2026-12-07. Waktu (WIB): jadwal 08:00, mulai 08:02, ..."."""
    first = sitting.scheduled_at or sitting.started_at
    day = format_local(first, DATE, label=False) if first else "-"
    times = []
    for label, when in (
        (_("jadwal"), sitting.scheduled_at),
        (_("mulai"), sitting.started_at),
        (_("berakhir"), sitting.ended_at),
    ):
        if when is not None:
            clock = format_local(when, "%H:%M", label=False)
            if first is not None and to_local(when).date() != to_local(first).date():
                clock = format_local(when, "%Y-%m-%d %H:%M", label=False)
            times.append(f"{label} {clock}")
    text = f"{_('Tanggal')}: {day}"
    if times:
        text += f". {_('Waktu')} ({zone_label(first)}): " + ", ".join(times)
    return text


def _people(sitting: Sitting, attempts: list[Attempt]):
    """(candidate, attempt or None) by registration number: the exported attempts, and the
    sitting's candidates who never logged in (absent: on the list, to sign for)."""
    pairs = [(a.candidate, a) for a in attempts]
    have = {c.id for c, _a in pairs}
    absent = db.session.execute(
        db.select(Candidate)
        .outerjoin(Attempt, Attempt.candidate_id == Candidate.id)
        .where(Candidate.sitting_id == sitting.id, Attempt.id.is_(None))
    ).scalars()
    pairs += [(c, None) for c in absent if c.id not in have]
    return sorted(pairs, key=lambda pair: pair[0].registration_no)


def _signatures(sheet, row: int, width: int, sitting: Sitting) -> int:
    """The proctor's and the head of the UPT's places to sign; returns the last row used."""
    right = max(width - 2, 4)
    when = sitting.ended_at or sitting.started_at or sitting.scheduled_at
    day = format_local(when, DATE, label=False) if when else ""
    sheet.cell(row, right, f"{current_app.config['CENTRE_NAME']}, {day}")
    sheet.cell(row + 1, 2, _("Pengawas ujian"))
    sheet.cell(row + 1, right, _("Kepala UPT"))
    for column in (2, right):
        sheet.cell(row + 1, column).font = Font(bold=True)
        sheet.cell(row + 5, column, "(" + "." * 36 + ")")
        sheet.cell(row + 6, column, _("NIP") + ". " + "." * 30)
    names = ", ".join(u.name or u.username for u in sitting.proctors)
    if names:
        sheet.cell(row + 2, 2, names)
    return row + 6
