"""Admin pages speak one language at a time (issue 18, item 5): every admin page, and the
pages a refused form or a flash message leaves, walked in Indonesian and in English; the
visible text of each (text, options, placeholders, titles, labels for screen readers) holds
no word of the other language. What people typed (names, rooms, item stems, reasons) and
machine codes (<code>) are the data, not the page's words, and are left out."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cat_server.demo import seed_demo
from cat_server.extensions import db
from cat_server.models import (
    AuditEvent,
    Candidate,
    Exam,
    ExamSection,
    ItemBank,
    Sitting,
    User,
)
from tests.conftest import login_staff, make_user

# every HTML page of the admin blueprint (a rule missing here fails the walk below)
PAGES = [
    "/admin/",
    "/admin/banks",
    "/admin/banks/1",
    "/admin/banks/1/stats",
    "/admin/items/1/preview",
    "/admin/exams/1/sections/1/preview",
    "/admin/exams/1/sections/1/preview?n=2",
    "/admin/banks/1/preview",
    "/admin/banks/1/preview?section=TIU",
    "/admin/exams",
    "/admin/exams/build",
    "/admin/exams/1/build",
    "/admin/sittings",
    "/admin/sittings/1",
    "/admin/scores",
    "/admin/audit",
    "/admin/audit?who=staff",
    "/admin/calibration",
    "/admin/calibration/no-such-run",
    "/admin/users",
    "/admin/packages",
    "/admin/results/",  # the result bundles' page (its own blueprint, in the admin's menu)
]
DOWNLOADS = {  # files, not pages: the score workbook has its own test (test_score_sheet.py)
    "admin.bank_export",
    "admin.bank_information",
    "admin.scores_export",
    "admin.responses_export",
    "admin.response_log_export",
    "admin.exam_export",
}
# pages a refusal or a message leaves: (path, form), posted in each language
POSTS = [
    ("/admin/sittings", {"name": "", "exam_id": ""}),
    ("/admin/exams", {"name": "", "bank_id": "", "duration_min": "0", "sections": "TWK, x"}),
    (
        "/admin/exams",
        {"name": "U", "bank_id": "1", "duration_min": "20", "sections": "TWK, T, 999"},
    ),
    ("/admin/banks", {"name": "Bank"}),
    ("/admin/candidates/import", {}),
    ("/admin/candidates/import", {"file": "data-2026.csv"}),  # a bad file: its problem table
    ("/admin/exams/build", {"n_sections": "1", "name": "", "total_minutes": "0"}),
    ("/admin/exams/import", {}),
    ("/admin/verify", {}),
    ("/admin/items/1/status", {"status": "retired", "reason": "bocor"}),
    ("/admin/sittings/1/pins", {"reason": ""}),
    ("/admin/users", {"username": "", "name": "", "role": "x", "password": "a"}),
]

BAD_CANDIDATES = (
    b"registration_no,name,birth_date,sitting,seet\n2026100001,Budi,1995-02-30,Sesi Demo 1,PC-01\n"
)
# words of the page's own text in the other language (not names, codes or shared terms
# such as bank, data, model, status, total, audit, server, format, pretest, PIN, login)
ENGLISH = set(
    """the and of with from to is are for or not yet none all new old back print export
    import upload save saved choose run sitting sittings scores exam exams items item
    candidates candidate proctor proctors name room seat seats date time when who why
    action filter older created scheduled finished absent answered shown exposure section
    sections key stem retire reactivate version imported problems problem file row column
    preview calibration statistics users account password role reason required optional
    minutes duration pass mark board fields progress integrity verify chains events recent
    logged out home waiting answering converged anchors persons chosen accept""".split()
)
INDONESIAN = set(
    """dan yang atau dari untuk dengan tidak belum ada soal ujian sesi peserta nilai simpan
    unggah impor ekspor pengawas ruang kursi jadwal alasan bagian menit semua baru lama
    kembali cetak keluar beranda alasan pengguna kalibrasi berkas baris kolom masalah periksa
    jalankan aktif pensiun selesai menunggu mengerjakan hadir lulus tanggal sampai waktu
    oleh tindakan diimpor versi nama kunci pratinjau statistik papan skor ambang durasi
    tambah akun peran kata sandi ubah pilih harus wajib diisi terjadwal berjalan
    dibuka jejak terbaru halaman saring kejadian rantai utuh integritas""".split()
)
CATALOGUE = Path(__file__).resolve().parent.parent / (
    "cat_server/translations/en/LC_MESSAGES/messages.po"
)
HIDDEN = {"script", "style", "code", "textarea"}
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "wbr"}
SPOKEN = ("placeholder", "title", "aria-label", "alt")


class VisibleText(HTMLParser):
    """What a person reads or hears on a page, minus machine codes and the bank's items."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: is its content hidden from the check

    @property
    def hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = (
            self.hidden
            or tag in HIDDEN
            or "stem" in (attrs.get("class") or "").split()
            or attrs.get("data-testid") in ("item-preview", "lang-switch")  # each in its own
        )
        if not skip:
            self.parts += [attrs[a] for a in SPOKEN if attrs.get(a)]
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in VOID:
            self.stack.append(skip)

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.parts.append(data)


def visible_parts(html: str, data: list[str]) -> list[str]:
    """Each text node and spoken attribute, with what people typed taken out."""
    parser = VisibleText()
    parser.feed(html)
    parts = []
    for part in parser.parts:
        for value in data:  # longest first: a name inside another is taken with it
            part = part.replace(value, " ")
        parts.append(part)
    return parts


def unquoted(text: str) -> str:
    return re.sub(r"'[^'\n]*'", " ", text)  # a quoted value or column name, as typed


def visible(html: str, data: list[str]) -> str:
    return unquoted("\n".join(visible_parts(html, data)))


def typed_data() -> list[str]:
    """Everything people named or typed: it stays in the language it was typed in."""
    values = set()
    for column in (
        Exam.name,
        ExamSection.name,
        Sitting.name,
        Sitting.room,
        ItemBank.name,
        ItemBank.source_filename,
        Candidate.name,
        User.name,
        AuditEvent.reason,
    ):
        values |= {v for v in db.session.execute(db.select(column)).scalars() if v}
    return sorted(values, key=len, reverse=True)


# names and codes that are no language's words: IRT methods and models, file names, actors
TECHNICAL = set(
    """Sympson Hetter Kullback Leibler randomesque gpcm grm pl pb csv docs engine md demo
    user data""".split()
)
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def catalogue(lang: str) -> list[re.Pattern]:
    """Every text of the catalogue in ``lang`` as a pattern (a placeholder: any value),
    longest first, so a sentence is taken whole before its words are."""
    from babel.messages.pofile import read_po

    with open(CATALOGUE, "rb") as f:
        texts = {m.id if lang == "id" else m.string for m in read_po(f) if m.id and m.string}
    texts = sorted(texts, key=lambda t: len(PLACEHOLDER.sub("", t)), reverse=True)
    return [
        re.compile(
            r"(?<!\w)" + r"[^\n]*?".join(re.escape(p) for p in PLACEHOLDER.split(t)) + r"(?!\w)"
        )
        for t in texts
        if len(t) > 1
    ]


def words_not_from_the_catalogue(parts: list[str], texts: list[re.Pattern]) -> set[str]:
    left = set()
    for part in parts:
        for text in texts:
            if not part.strip():
                break
            part = text.sub(" ", part)
        left |= set(re.findall(r"[A-Za-z]{2,}", unquoted(part)))
    return {w for w in left if not w.isupper() and w not in TECHNICAL}


def foreign_words(text: str, words: set[str]) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z_]+", text) if w.lower() in words}


@pytest.fixture
def admin(app):
    with app.app_context():
        seed_demo()
        make_user("kepala", "admin", "admin-pass-1")
    client = app.test_client()
    assert login_staff(client, "kepala", "admin-pass-1").status_code == 302
    return client


def test_every_admin_page_is_in_the_walk(app):
    rules = {
        r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")
    } - DOWNLOADS
    get_rules = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if r.endpoint in rules and "GET" in (r.methods or ())
    }
    walked = set()
    with app.test_request_context():
        for path in PAGES:
            adapter = app.url_map.bind("localhost")
            walked.add(adapter.match(path.split("?")[0], method="GET")[0])
    assert get_rules <= walked, f"admin pages not walked: {sorted(get_rules - walked)}"


@pytest.mark.parametrize(
    "lang, other",
    [("id", ENGLISH), ("en", INDONESIAN)],
    ids=["Indonesian pages", "English pages"],
)
def test_admin_pages_hold_no_word_of_the_other_language(app, admin, lang, other):
    found = {}
    admin.get(f"/admin/?lang={lang}")  # the switch: a cookie from now on
    for path, form in POSTS:
        if form.get("file") == "data-2026.csv":
            form = {"file": (io.BytesIO(BAD_CANDIDATES), "data-2026.csv")}
        response = admin.post(path, data=form, follow_redirects=True)
        assert response.status_code in (200, 400, 404, 422), (path, response.status_code)
        with app.app_context():
            words = foreign_words(visible(response.get_data(as_text=True), typed_data()), other)
        if words:
            found[f"POST {path} {sorted(form)}"] = sorted(words)
    for path in PAGES:
        response = admin.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        with app.app_context():
            words = foreign_words(visible(response.get_data(as_text=True), typed_data()), other)
        if words:
            found[path] = sorted(words)
    assert not found, f"words of the other language on the {lang} pages: {found}"


def test_the_check_sees_an_untranslated_word():
    """The walk would notice: a hint left in English, a label left in Indonesian."""
    page = '<p class="hint">Belum ada sesi. <span>No sittings yet.</span></p><code>the</code>'
    assert foreign_words(visible(page, []), ENGLISH) == {"sittings", "yet"}
    assert foreign_words(visible('<input placeholder="alasan">', []), INDONESIAN) == {"alasan"}
    assert not foreign_words(visible("<td>Sesi Demo 1</td>", ["Sesi Demo 1"]), INDONESIAN)


def test_an_item_is_previewed_after_its_status_changed(app, admin):
    """Retiring an item empties the item cache; the next preview cached it afresh, detaching
    the page's own copy of the item, and the page failed (500) reading its bank's name."""
    assert admin.post("/admin/items/1/status", data={"status": "retired", "reason": "bocor"})
    page = admin.get("/admin/items/1/preview")
    assert page.status_code == 200
    assert "Bank Soal Demo SKD" in page.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_word_on_an_admin_page_comes_from_the_catalogue(app, admin, lang):
    """Stricter than a list of words: each visible text of every page and refusal, with what people typed taken out,
    is made of texts of the catalogue in the page's language (gettext's, so translated),
    numbers, codes and IRT names; a sentence written straight into a template is found.
    Error pages (404) carry their own pair of sentences (errors.py) and are left out."""
    texts = catalogue(lang)
    admin.get(f"/admin/?lang={lang}")
    found = {}
    for path, form in [*((p, None) for p in PAGES), *POSTS]:
        if form is None:
            response = admin.get(path)
        else:
            if form.get("file") == "data-2026.csv":
                form = {"file": (io.BytesIO(BAD_CANDIDATES), "data-2026.csv")}
            response = admin.post(path, data=form, follow_redirects=True)
            path = f"POST {path}"
        if response.status_code == 404:
            continue
        with app.app_context():
            parts = visible_parts(response.get_data(as_text=True), typed_data())
        if left := words_not_from_the_catalogue(parts, texts):
            found[path] = sorted(left)
    assert not found, f"words outside the catalogue on the {lang} pages: {found}"


def test_the_catalogue_check_sees_a_sentence_left_out_of_gettext():
    texts = catalogue("id")
    assert not words_not_from_the_catalogue(["Belum ada sesi.", "Jadwalkan sesi"], texts)
    left = words_not_from_the_catalogue(["Belum ada sesi yang cocok."], texts)
    assert {"yang", "cocok"} <= left
