"""Words in the page's language: audit actions (the code stays beside them, for searching)
and the problems of an uploaded file (a bank's, candidates', a calibration's responses)."""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from ..itembank.formats.problems import Message
from ..itembank.formats.problems import _ as _m
from . import bp

ACTIONS = {
    "adaptive_stopped": _l("bagian adaptif berhenti"),
    "api_token_created": _l("token API dibuat"),
    "api_token_revoked": _l("token API dicabut"),
    "attempt_created": _l("ujian peserta dibuat"),
    "attempt_ended": _l("ujian peserta diakhiri"),
    "attempt_finished": _l("ujian peserta selesai"),
    "attempt_paused": _l("ujian peserta dijeda"),
    "attempt_resumed": _l("ujian peserta dilanjutkan"),
    "attempt_started": _l("ujian peserta dimulai"),
    "bank_imported": _l("bank soal diimpor"),
    "board_configured": _l("papan skor diatur"),
    "calibration_run": _l("kalibrasi dijalankan"),
    "candidates_imported": _l("peserta diimpor"),
    "check_in_opened": _l("check-in dibuka"),
    "downtime_credit": _l("waktu server mati dikembalikan"),
    "exam_changed": _l("ujian diubah"),
    "exam_created": _l("ujian dibuat"),
    "focus_lost": _l("peserta meninggalkan layar ujian"),
    "help_requested": _l("peserta meminta bantuan"),
    "incident_noted": _l("kejadian dicatat"),
    "item_calibrated": _l("parameter soal diterima"),
    "item_status": _l("status soal diubah"),
    "late_login": _l("peserta masuk terlambat"),
    "lockout_lifted": _l("blokir login dicabut"),
    "login": _l("masuk"),
    "login_busy": _l("login ditolak: server sibuk"),
    "login_failed": _l("login gagal"),
    "login_locked": _l("login diblokir"),
    "login_refused": _l("login ditolak"),
    "login_spraying": _l("login ditolak: banyak akun dicoba"),
    "logout": _l("keluar"),
    "pin_reset": _l("PIN peserta diganti"),
    "pins_reset": _l("PIN baru untuk sesi"),
    "seat_added": _l("kursi ditambahkan"),
    "seat_moved": _l("peserta dipindah kursi"),
    "section_finished": _l("bagian selesai"),
    "section_time_up": _l("waktu bagian habis"),
    "sitting_created": _l("sesi dijadwalkan"),
    "sitting_ended": _l("sesi diakhiri"),
    "sitting_extended": _l("waktu sesi ditambah"),
    "sitting_paused": _l("sesi dijeda"),
    "sitting_proctors_changed": _l("pengawas sesi diubah"),
    "sitting_resumed": _l("sesi dilanjutkan"),
    "sitting_started": _l("sesi dimulai"),
    "socket_origin_refused": _l("koneksi dari situs lain ditolak"),
    "time_extended": _l("waktu peserta ditambah"),
    "user_created": _l("akun dibuat"),
    "user_deactivated": _l("akun dinonaktifkan"),
    "user_password_reset": _l("kata sandi diganti"),
    "user_reactivated": _l("akun diaktifkan kembali"),
    "user_role_changed": _l("peran akun diubah"),
}


def action_words(action: str) -> str:
    """An audit action in words; an action without words yet shows its code."""
    words = ACTIONS.get(action)
    return str(words) if words is not None else action


# The engine's problems of a responses file (irt.io.InputError, by code): each sentence in
# the catalogue, its English the engine's own (irt.io.MESSAGES, the CLI's), the values the
# error's ``params``.
INPUT_PROBLEMS = {
    "not_utf8": _m("berkas bukan teks UTF-8"),
    "empty_file": _m("berkas kosong"),
    "unreadable_csv": _m("CSV tidak terbaca: %(detail)s"),
    "cell_too_long": _m("CSV tidak terbaca: ada sel yang lebih panjang dari %(expected)s karakter"),
    "blank_header": _m("baris pertama harus baris judul; baris itu kosong"),
    "empty_column_name": _m("nama kolom kosong"),
    "duplicate_column": _m("kode soal %(value)r ganda (juga kolom %(other)s)"),
    "no_item_columns": _m("tidak ada kolom soal"),
    "no_response_rows": _m("tidak ada baris jawaban (hanya baris judul)"),
    "cell_count": _m("%(value)s sel untuk %(expected)s kolom"),
    "not_a_number": _m("%(value)r bukan angka"),
    "not_whole": _m("%(value)r bukan skor bilangan bulat"),
    "score_out_of_range": _m("skor %(value)s di luar rentang (boleh %(expected)s)"),
    "no_responses": _m("tidak ada jawaban di kolom soal ini"),
    "constant_column": _m(
        "kolom tetap: setiap jawaban %(value)s, jadi soal ini tidak dapat dikalibrasi"
    ),
}
ZERO_OR_ONE = _m("0 atau 1")


def input_problem_text(error, filename: str) -> str:
    """An irt.io.InputError of ``filename`` in the request's language: the file, where
    (row, column) and the problem; English outside a request, as the CLI prints it."""
    sentence = INPUT_PROBLEMS.get(error.code)
    if sentence is None:  # a problem of another engine file: the engine's English
        return f"{filename}: {error}"
    values = dict(error.params)
    if values.get("expected") == "0 or 1":  # the one range the engine says in words
        values["expected"] = ZERO_OR_ONE
    where = []
    if error.row is not None:
        row = error.row
        where.append(_m("baris %(row)s", row=row) if error.unit == "row" else f"line {row}")
    if error.column is not None:
        where.append(_m("kolom %(column)s", column=error.column))
    parts = [worded(w) if isinstance(w, Message) else str(w) for w in where]
    problem = worded(Message(sentence.msgid, **values))
    return f"{filename}: {', '.join(parts)}: {problem}" if parts else f"{filename}: {problem}"


# Items the responses cannot calibrate (irt.calibration.UncalibratableItem, by code)
UNCALIBRATABLE = {
    "no_response": _m("Soal %(item)s tidak punya jawaban."),
    "no_variance": _m("Soal %(item)s tidak bervariasi (setiap jawaban %(value)s)."),
    "empty_category": _m(
        "Soal %(item)s: tidak ada yang mendapat skor %(value)s (skor 0..%(expected)s), jadi "
        "ambang di sebelah kategori itu tidak dapat diestimasi. Gabungkan kategori itu dengan "
        "skor di sebelahnya atau keluarkan soalnya."
    ),
    "empty_inner_category": _m(
        "Soal %(item)s: tidak ada yang mendapat skor %(value)s (skor 0..%(expected)s), jadi "
        "kedua ambang di sebelah kategori itu tidak dapat diestimasi. Gabungkan kategori itu "
        "dengan skor di sebelahnya atau keluarkan soalnya."
    ),
}


def uncalibratable_text(error) -> str:
    """An irt.calibration.UncalibratableItem in the request's language (English outside)."""
    code, values = error.code, error.params
    if code == "empty_category" and 0 < values["value"] < values["expected"]:
        code = "empty_inner_category"  # a score between two others: both its thresholds
    sentence = UNCALIBRATABLE.get(code)
    return str(error) if sentence is None else worded(Message(sentence.msgid, **values))


def worded(message: Message) -> str:
    """A Message in the request's language; English outside a request (the CLI's)."""
    return message.render(_translate if has_request_context() else None)


def problem_text(problem) -> str:
    """A file problem's sentence in the request's language (``?lang=``, the cookie);
    English outside a request, as the CLI prints it."""
    return problem.text(_translate if has_request_context() else None)


def _translate(msgid: str) -> str:
    return gettext(msgid)  # no values: flask_babel leaves the %(name)s for Message to fill


@bp.app_context_processor
def _words():
    return {"action_words": action_words, "problem_text": problem_text}
