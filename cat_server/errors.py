"""Errors a user can act on, rendered as JSON, a page, or a Socket.IO error."""

from flask import render_template, request
from werkzeug.routing import IntegerConverter, ValidationError

# Ids and seqs beyond a 32-bit integer cannot exist (PostgreSQL INTEGER): refuse
# them as bad payloads before they reach the database and overflow there.
MAX_ID = 2**31 - 1


def is_id(value) -> bool:
    """A positive-or-zero int that fits the database's integer columns (bool excluded)."""
    return type(value) is int and 0 <= value <= MAX_ID


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: 0..MAX_ID, else the URL matches no rule (404).

    Werkzeug's own converter takes any number of digits, and the id then
    overflowed in the database: PostgreSQL raises past INTEGER, SQLite's driver
    past 64 bits, so /exam/9223372036854775808/ was a 500. Registered as "int"
    before any route (create_app), so no route can forget it.
    """

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)

    def to_python(self, value: str):
        if len(value) > len(str(MAX_ID)):  # before int(): thousands of digits raise there
            raise ValidationError()
        return super().to_python(value)


class ExamError(Exception):
    """Base: ``status`` for HTTP, ``code`` for clients, a sentence in Indonesian and English."""

    status = 400
    code = "bad_request"
    message = "Permintaan tidak valid."
    message_en = "Invalid request."

    def __init__(self, message=None, message_en=None, **details):
        super().__init__(message or self.message)
        if message:
            self.message = message
        if message_en:
            self.message_en = message_en
        self.details = details

    @property
    def headers(self) -> dict:
        return {}

    def to_dict(self) -> dict:
        return {
            "ok": False,
            "error": self.code,
            "message": self.message,
            "message_en": self.message_en,
            **self.details,
        }


class BadPayload(ExamError):
    code = "bad_payload"
    message = "Data yang dikirim tidak lengkap atau salah bentuk."
    message_en = "The message was incomplete or malformed."


class NotFound(ExamError):
    status = 404
    code = "not_found"
    message = "Tidak ditemukan."
    message_en = "Not found."


class Forbidden(ExamError):
    status = 403
    code = "forbidden"
    message = "Anda tidak berhak mengakses ini."
    message_en = "You are not allowed to access this."


class LoginFailed(ExamError):
    status = 401
    code = "login_failed"
    message = "Nomor peserta atau PIN salah."
    message_en = "Wrong registration number or PIN."


class TooManyAttempts(ExamError):
    """A login budget is spent (cat_server/lockout.py); details: limit, retry_after, scope."""

    status = 429
    code = "too_many_attempts"
    message = (
        "Terlalu banyak percobaan masuk. Tunggu beberapa menit lalu coba lagi, "
        "atau minta bantuan pengawas."
    )
    message_en = "Too many login attempts. Wait a few minutes and try again, or ask a proctor."

    @property
    def headers(self) -> dict:
        retry = self.details.get("retry_after")
        return {"Retry-After": str(retry)} if retry else {}


class NotInProgress(ExamError):
    status = 409
    code = "not_in_progress"
    message = "Ujian belum dimulai atau sudah selesai."
    message_en = "The exam has not started or has already ended."


class SittingEnded(ExamError):
    status = 409
    code = "sitting_ended"
    message = "Sesi ujian sudah ditutup."
    message_en = "The sitting has ended."


class CheckInClosed(ExamError):
    status = 409
    code = "check_in_closed"
    message = "Check-in belum dibuka. Tunggu aba-aba pengawas."
    message_en = "Check-in is not open yet. Wait for the proctor."


class TimeUp(ExamError):
    status = 409
    code = "time_up"
    message = "Waktu ujian telah habis. Jawaban ini tidak disimpan."
    message_en = "Time is up. This answer was not stored."


class WrongSeq(ExamError):
    status = 409
    code = "wrong_seq"
    message = "Soal ini bukan soal yang sedang aktif. Tampilan diperbarui."
    message_en = "This is not the current item. The screen has been refreshed."


class InvalidChoice(ExamError):
    code = "invalid_choice"
    message = "Pilihan jawaban tidak dikenal."
    message_en = "Unknown answer option."


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or best == "application/json"


def init_app(app):
    from .extensions import db

    @app.errorhandler(ExamError)
    def handle_exam_error(error):
        db.session.rollback()
        if wants_json():
            return error.to_dict(), error.status, error.headers
        return render_template("error.html", error=error), error.status, error.headers

    @app.errorhandler(404)
    def handle_404(_):
        return handle_exam_error(NotFound())

    @app.errorhandler(500)
    def handle_500(_):
        db.session.rollback()
        error = ExamError("Terjadi kesalahan pada server.", "Server error.")
        error.status = 500
        if wants_json():
            return error.to_dict(), 500
        return render_template("error.html", error=error), 500


class SectionOver(ExamError):
    status = 409
    code = "section_over"
    message = "Bagian ujian ini sudah selesai; jawabannya tidak dapat diubah lagi."
    message_en = "This section has ended; its answers can no longer be changed."


class SectionTimeUp(ExamError):
    status = 409
    code = "section_time_up"
    message = "Waktu bagian ini telah habis. Jawaban ini tidak disimpan."
    message_en = "Time is up for this section. This answer was not stored."


class Paused(ExamError):
    status = 409
    code = "paused"
    message = "Ujian Anda sedang dijeda oleh pengawas. Waktu tidak berjalan; mohon tunggu."
    message_en = "Your exam is paused by the proctor. The clock is stopped; please wait."


class AlreadyConnected(ExamError):
    status = 409
    code = "already_connected"
    message = "Login ini sedang aktif di komputer lain. Hubungi pengawas."
    message_en = "This login is active on another workstation. Please call the proctor."


class SeatTaken(ExamError):
    """A seat move onto a seat another candidate sits at; ``free``: the seats that are not."""

    status = 409
    code = "seat_taken"
    message = "Kursi itu sudah ditempati peserta lain. Pilih kursi kosong."
    message_en = "Another candidate sits at that seat. Choose a free seat."


class SessionEnded(ExamError):
    """The cookie's session was ended on the server: log in again (exam/sessions.py)."""

    status = 401
    code = "session_ended"
    message = (
        "Login Anda telah diakhiri (keluar, reset PIN, pindah komputer, atau oleh pengawas). "
        "Silakan masuk lagi dengan nomor peserta dan PIN; jawaban yang sudah terkirim tetap "
        "tersimpan."
    )
    message_en = (
        "Your login was ended (logout, PIN reset, a move to another workstation, or by the "
        "proctor). Please log in again with your registration number and PIN; answers already "
        "sent are kept."
    )


class SessionIdle(SessionEnded):
    message = (
        "Login Anda berakhir karena tidak aktif terlalu lama. "
        "Silakan masuk lagi dengan nomor peserta dan PIN; jawaban yang sudah terkirim tetap "
        "tersimpan."
    )
    message_en = (
        "Your login ended after a long inactivity. "
        "Please log in again with your registration number and PIN; answers already sent are "
        "kept."
    )
