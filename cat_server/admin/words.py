"""Words in the page's language: audit actions (the code stays beside them, for searching)
and the problems of an uploaded file."""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

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


def problem_text(problem) -> str:
    """A file problem's sentence in the request's language (``?lang=``, the cookie);
    English outside a request, as the CLI prints it."""
    return problem.text(_translate if has_request_context() else None)


def _translate(msgid: str) -> str:
    return gettext(msgid)  # no values: flask_babel leaves the %(name)s for Message to fill


@bp.app_context_processor
def _words():
    return {"action_words": action_words, "problem_text": problem_text}
