"""Admin pages speak one language at a time (issue 18, item 5): every admin page, and the
pages a refused form or a flash message leaves, walked in Indonesian and in English; the
visible text of each (text, options, placeholders, titles, labels for screen readers) holds
no word of the other language. What people typed (names, rooms, item stems, reasons) and
machine codes (<code>) are the data, not the page's words, and are left out."""

from __future__ import annotations

import html
import io
import re
import zipfile
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
from tests.test_admin import problems_of

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
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]")  # %r: a value quoted as Python does


def catalogue(lang: str) -> list[re.Pattern]:
    """Every text of the catalogue in ``lang`` as a pattern (a placeholder: any value),
    longest first, so a sentence is taken whole before its words are."""
    from babel.messages.pofile import read_po

    texts = set()
    with open(CATALOGUE, "rb") as f:
        for m in read_po(f):
            if not (m.id and m.string):
                continue
            found = m.id if lang == "id" else m.string
            # a plural entry (ngettext) has its singular and plural forms as a tuple
            texts |= set(found) if isinstance(found, tuple | list) else {found}
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


# --- an item bank file's problems, in the page's language ---------------------------

BAD_BANK_CSV = (
    "item_id,section,model,a,b,c,d,b1,stem,option_a,option_b,option_c,key,score_a,score_c,"
    "stemm,kolom_x\n"
    "TWK001,TWK,3pl,1.2,abc,0.6,,,Soal satu,Jakarta,Bandung,,F,,,,\n"
    "twk001,,9pl,,,,,,,Sama,Sama,,A,,,,\n"
    "TIU001,TIU,gpcm,1,0.5,,,0.2,Soal tiga,A1,A2,,B,1,2,,\n"
    "TKP 01,TKP,2pl,5,7,,0.9,,Soal empat,P,Q,R,A,3,,,\n"
    "TKP002,TKP,grm,1,,,,,Soal lima,P,,R,,1,3,,\n"
    "TIU002,TIU,4pl,1,0,0.3,0.2,,Soal enam,P,Q,,A,,,,,x\n"
)
BAD_BANK_JSON = (
    '[{"item_id": "TWK010", "section": "TWK", "model": "2pl", "a": 1, "b": "nol", '
    '"stem": "S", "option_a": "P", "option_b": "Q", "key": "A", "KEY": "B", "opsi": 1}, 7, '
    '{"item_id": "TWK011", "section": ["TWK"], "model": "1pl", "b": 1e999, "stem": "S", '
    '"option_a": "P", "option_b": "Q", "key": "A"}]'
)


def bad_bank_files() -> dict[str, tuple[str, bytes]]:
    """Broken bank files of every kind, each with problems of many sorts."""
    from tests.test_admin_qti import item_xml, package

    png_in_name_only = io.BytesIO()
    with zipfile.ZipFile(png_in_name_only, "w") as archive:
        archive.writestr("bank.csv", BAD_BANK_CSV)
        archive.writestr("../luar.png", b"x")
        archive.writestr("media/peta.png", b"<html></html>")
        archive.writestr("media/catatan.exe", b"MZ")
    return {
        "csv": ("x1.csv", BAD_BANK_CSV.encode()),
        "json": ("x2.json", BAD_BANK_JSON.encode()),
        "utf-16": ("x3.csv", BAD_BANK_CSV.encode("utf-16")),
        "qti": (
            "x4.zip",
            package(
                {
                    "a.xml": item_xml("TIU501", max_choices="2"),
                    "b.xml": item_xml("TIU502", correct="E", label=""),
                    "c.xml": item_xml("TIU501", choices=("satu",)),
                },
                hrefs=["a.xml", "b.xml", "c.xml", "../d.xml", "hilang.xml"],
            ),
        ),
        "qti-item": ("x5.xml", item_xml().replace("imsqti_v2p1", "bukan-qti").encode()),
        "zip": ("x6.zip", png_in_name_only.getvalue()),
        "format": ("x7.txt", b"item_id\n"),
    }


# The bank file's column names (docs/formats.md) are codes of the format, as in <code>.
COLUMN_NAMES = re.compile(r"\b(?:item_id|section|stem|key|model|status|media)\b")
# More words of the problems, in each language (the page-wide sets hold the pages' words)
BANK_ENGLISH = set(
    """expected got must given twice missing empty header value found only needs options
    option score scores thresholds without gaps unknown duplicate unsafe allowed damaged
    encrypted save than smaller required""".split()
)
BANK_INDONESIAN = set(
    """diharapkan ditemukan harus diberikan kali kosong nilai hanya butuh pilihan skor ambang
    tanpa celah dikenal ganda aman diizinkan rusak terenkripsi simpan sebagai lebih kecil
    wajib diisi paling banyak""".split()
)


def FILE_DATA(lang: str) -> list[str]:  # noqa: N802
    """File and member names, the lists of codes a problem quotes, and the sentence of how
    to save a CSV (the end of other sentences, like a value): data, not the page's words."""
    from cat_server.admin.banks import BANK_EXTENSIONS, MEDIA_EXTENSIONS
    from cat_server.itembank.formats import COLUMNS
    from cat_server.itembank.formats.text import SAVE_AS

    names = [name for name, _data in bad_bank_files().values()]
    names += ["../luar.png", "media/catatan.exe", "media/peta.png", ".exe", "imsmanifest.xml"]
    names += ["a.xml", "b.xml", "c.xml", "../d.xml", "hilang.xml"]
    codes = [", ".join(COLUMNS), ", ".join(BANK_EXTENSIONS), ", ".join(MEDIA_EXTENSIONS)]
    return names + codes + [SAVE_AS.render(None if lang == "en" else str)]


@pytest.mark.parametrize("kind", list(bad_bank_files()))
@pytest.mark.parametrize(
    "lang, other", [("id", ENGLISH), ("en", INDONESIAN)], ids=["Indonesian", "English"]
)
def test_a_bank_files_problems_are_in_the_pages_language(app, admin, kind, lang, other):
    """Issue 18 item 5: the problems of an uploaded bank file read in the page's language,
    each still naming file, row, column, what was expected and the value found."""
    filename, data = bad_bank_files()[kind]
    admin.get(f"/admin/?lang={lang}")
    response = admin.post(
        "/admin/banks",
        data={"name": "Bank Rusak", "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    table = html.split('class="table problems-table"', 1)[1].split("</table>", 1)[0]
    assert filename in table
    with app.app_context():
        data_typed = sorted(typed_data() + FILE_DATA(lang), key=len, reverse=True)
        text = COLUMN_NAMES.sub(" ", visible(html, data_typed))
        parts = visible_parts(html, data_typed)  # the catalogue's sentences hold the names
    words = foreign_words(text, other | (BANK_ENGLISH if lang == "id" else BANK_INDONESIAN))
    assert not words, (sorted(words), table)
    assert not words_not_from_the_catalogue(parts, catalogue(lang)), table


def test_a_bank_files_problems_keep_their_facts_in_both_languages(app, admin):
    """The same problem, worded twice: file, row, column and the value found stay."""
    rows = {}
    for lang in ("id", "en"):
        admin.get(f"/admin/?lang={lang}")
        response = admin.post(
            "/admin/banks",
            data={"name": "Bank Rusak", "file": (io.BytesIO(BAD_BANK_CSV.encode()), "x1.csv")},
            content_type="multipart/form-data",
        )
        rows[lang] = problems_of(response)
    assert len(rows["id"]) == len(rows["en"]) > 15
    assert (
        "x1.csv",
        "baris 2",
        "key",
        "diharapkan salah satu A..E yang menunjuk pilihan yang terisi, ditemukan &#39;F&#39;",
    ) in rows["id"]
    assert (
        "x1.csv",
        "row 2",
        "key",
        "expected one of A..E naming a non-empty option, got &#39;F&#39;",
    ) in rows["en"]
    assert (
        "x1.csv",
        "baris 3",
        "item_id",
        "item_id &#39;twk001&#39; ganda: baris 2 sudah memakai &#39;TWK001&#39;",
    ) in rows["id"]
    assert (
        "x1.csv",
        "row 3",
        "item_id",
        "duplicate item_id &#39;twk001&#39;: row 2 has &#39;TWK001&#39;",
    ) in rows["en"]
    for (file, row, column, _), (file_en, row_en, column_en, _en) in zip(
        rows["id"], rows["en"], strict=True
    ):
        assert (file, row.replace("baris", "row"), column) == (file_en, row_en, column_en)


def test_load_bank_prints_the_problems_in_english(app, runner, tmp_path):
    path = tmp_path / "x1.csv"
    path.write_text(BAD_BANK_CSV)
    result = runner.invoke(args=["load-bank", str(path), "--name", "Bank Rusak"])
    assert result.exit_code == 2
    assert "x1.csv, row 2, column key: expected one of A..E naming a non-empty option, got 'F'" in (
        result.stderr
    )
    text = COLUMN_NAMES.sub(" ", unquoted(result.stderr.replace("x1.csv", " ")))
    assert not foreign_words(text, INDONESIAN), sorted(foreign_words(text, INDONESIAN))


# --- a calibration's responses file: its problems in the page's language -------------

RESPONSES = "person_id,TWK001,TWK002\n"
# (file, its bytes, the problem line in Indonesian, in English): file, row, column, the
# value found or what was expected, each in the page's language
BAD_RESPONSES = {
    "not-a-number": (
        RESPONSES + "P1,1,0\nP2,x,1\n",
        "jawaban.csv: baris 3, kolom 2 ('TWK001'): 'x' bukan angka",
        "jawaban.csv: row 3, column 2 ('TWK001'): 'x' is not a number",
    ),
    "out-of-range": (
        RESPONSES + "P1,1,0\nP2,0,2\n",
        "jawaban.csv: baris 3, kolom 3 ('TWK002'): skor 2 di luar rentang (boleh 0 atau 1)",
        "jawaban.csv: row 3, column 3 ('TWK002'): score 2 is out of range (allowed 0 or 1)",
    ),
    "not-whole": (
        RESPONSES + "P1,1,0\nP2,0.5,1\n",
        "jawaban.csv: baris 3, kolom 2 ('TWK001'): '0.5' bukan skor bilangan bulat",
        "jawaban.csv: row 3, column 2 ('TWK001'): '0.5' is not a whole-number score",
    ),
    "ragged": (
        RESPONSES + "P1,1,0\nP2,0\n",
        "jawaban.csv: baris 3: 2 sel untuk 3 kolom",
        "jawaban.csv: row 3: 2 cells for 3 columns",
    ),
    "constant": (
        RESPONSES + "P1,1,0\nP2,1,1\n",
        "jawaban.csv: baris 2-3, kolom 2 ('TWK001'): kolom tetap: setiap jawaban 1, jadi soal "
        "ini tidak dapat dikalibrasi",
        "jawaban.csv: row 2-3, column 2 ('TWK001'): constant column: every response is 1, so "
        "the item cannot be calibrated",
    ),
    "no-responses": (
        RESPONSES + "P1,1,\nP2,0,\n",
        "jawaban.csv: baris 2-3, kolom 3 ('TWK002'): tidak ada jawaban di kolom soal ini",
        "jawaban.csv: row 2-3, column 3 ('TWK002'): no responses in this item column",
    ),
    "duplicate": (
        "person_id,TWK001,TWK001\nP1,1,0\n",
        "jawaban.csv: baris 1, kolom 3 ('TWK001'): kode soal 'TWK001' ganda (juga kolom 2)",
        "jawaban.csv: row 1, column 3 ('TWK001'): duplicate item id 'TWK001' (also column 2)",
    ),
    "empty-column-name": (
        "person_id,TWK001,\nP1,1,0\n",
        "jawaban.csv: baris 1, kolom 3: nama kolom kosong",
        "jawaban.csv: row 1, column 3: empty column name",
    ),
    "header-only": (
        RESPONSES,
        "jawaban.csv: baris 2: tidak ada baris jawaban (hanya baris judul)",
        "jawaban.csv: row 2: no response rows (only a header)",
    ),
    "no-items": (
        "person_id\nP1\n",
        "jawaban.csv: baris 1: tidak ada kolom soal",
        "jawaban.csv: row 1: no item columns",
    ),
    "blank-header": (
        "\n" + RESPONSES + "P1,1,0\n",
        "jawaban.csv: baris 1: baris pertama harus baris judul; baris itu kosong",
        "jawaban.csv: row 1: the first line must be the header; it is blank",
    ),
    "empty": ("", "jawaban.csv: berkas kosong", "jawaban.csv: the file is empty"),
    "utf-16": (
        (RESPONSES + "P1,1,0\n").encode("utf-16"),
        "jawaban.csv: berkas bukan teks UTF-8",
        "jawaban.csv: the file is not UTF-8 text",
    ),
    "long-cell": (
        RESPONSES + 'P1,"' + "1" * 200_000 + '",0\n',
        "jawaban.csv: baris 2: CSV tidak terbaca: ada sel yang lebih panjang dari 131072 karakter",
        "jawaban.csv: row 2: the CSV cannot be read: field larger than field limit (131072)",
    ),
}
RESPONSES_ENGLISH = set(
    """cells columns number whole score range allowed constant every response cannot
    calibrated responses duplicate empty header first line blank text cannot read field
    larger limit""".split()
)
RESPONSES_INDONESIAN = set(
    """bukan angka bilangan bulat skor luar rentang boleh atau tetap setiap jawaban jadi
    dapat dikalibrasi ganda juga kosong judul pertama harus teks terbaca sel panjang
    karakter""".split()
)


def post_responses(admin, data: str | bytes):
    data = data.encode() if isinstance(data, str) else data
    return admin.post(
        "/admin/calibration",
        data={"bank_id": "1", "model": "2pl", "file": (io.BytesIO(data), "jawaban.csv")},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("case", list(BAD_RESPONSES))
@pytest.mark.parametrize(
    "lang, other", [("id", ENGLISH), ("en", INDONESIAN)], ids=["Indonesian", "English"]
)
def test_a_responses_files_problem_is_in_the_pages_language(app, admin, case, lang, other):
    """Issue 18: a calibration's responses file (read by the engine, irt/io.py) names its
    problem in the page's language: file, row, column and the value found or expected."""
    data, indonesian, english = BAD_RESPONSES[case]
    admin.get(f"/admin/?lang={lang}")
    response = post_responses(admin, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    problems = page.split('class="problems-list"', 1)[1].split("</div>", 1)[0]
    expected = indonesian if lang == "id" else english
    assert expected in html.unescape(problems), problems
    with app.app_context():
        data_typed = ["jawaban.csv", *typed_data()]  # the file's name is the admin's own
        words = foreign_words(
            visible(page, data_typed),
            other | (RESPONSES_ENGLISH if lang == "id" else RESPONSES_INDONESIAN),
        )
        parts = visible_parts(page, data_typed)
    assert not words, (sorted(words), problems)
    assert not words_not_from_the_catalogue(parts, catalogue(lang)), problems


def test_the_responses_problems_read_in_english_as_the_engine_writes_them():
    """The English page and the CLI (``cat-server calibrate``) say the same sentence."""
    from cat_server.admin.words import INPUT_PROBLEMS
    from cat_server.irt.io import MESSAGES
    from cat_server.itembank.formats.problems import english

    assert set(INPUT_PROBLEMS) <= set(MESSAGES)
    for code, sentence in INPUT_PROBLEMS.items():
        assert english(sentence.msgid) == MESSAGES[code], code


def test_the_engine_names_a_responses_files_problem_by_code_and_values(tmp_path):
    """irt/ imports nothing of the server: its error carries a code, where and the values,
    for the admin to word; ``str()`` stays the English sentence."""
    from cat_server.irt.io import InputError, read_responses

    path = tmp_path / "jawaban.csv"
    path.write_text(BAD_RESPONSES["out-of-range"][0])
    with pytest.raises(InputError) as caught:
        read_responses(path)
    error = caught.value
    assert (error.code, error.params) == ("score_out_of_range", {"value": 2, "expected": "0 or 1"})
    assert (error.file, error.unit, error.row, error.column) == (
        str(path),
        "row",
        3,
        "3 ('TWK002')",
    )
    assert str(error) == "row 3, column 3 ('TWK002'): score 2 is out of range (allowed 0 or 1)"


def test_calibrate_prints_a_responses_files_problem_in_english(runner, tmp_path):
    from cat_server.engine_cli import calibrate_command

    path = tmp_path / "jawaban.csv"
    path.write_text(BAD_RESPONSES["out-of-range"][0])
    result = runner.invoke(calibrate_command, [str(path), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2
    assert "row 3, column 3 ('TWK002'): score 2 is out of range (allowed 0 or 1)" in result.output
    text = unquoted(result.output.replace(str(path), " "))
    assert not foreign_words(text, RESPONSES_INDONESIAN), result.output


# --- the chain check's page: its problems in the page's language -----------------------


@pytest.fixture
def tampered(app):
    """Two attempts of 'Sesi Uji': one answer of the first altered, a row of the second
    deleted; (admin client, the altered row's id)."""
    from cat_server.models import Response
    from tests.conftest import PIN, make_sitting
    from tests.test_admin import sit_exam

    with app.app_context():
        sitting_id = make_sitting(n_candidates=2)
        make_user("kepala", "admin", "admin-pass-1")
    sit_exam(app, sitting_id, "20260001", PIN, ["A", "B", "C"])
    sit_exam(app, sitting_id, "20260002", PIN, ["E", "E", "E"])
    with app.app_context():
        first = db.session.query(Response).filter_by(attempt_id=1, seq=2).one()
        first.choice, first.score = "C", 5
        row_id = first.id
        db.session.delete(db.session.query(Response).filter_by(attempt_id=2, n=2).one())
        db.session.commit()
    client = app.test_client()
    assert login_staff(client, "kepala", "admin-pass-1").status_code == 302
    return client, row_id


CHAIN_ENGLISH = set(
    """attempt registration response seq altered fields choice answered give stored
    under chain key unkeyed missing deleted counts but removed added""".split()
)
CHAIN_INDONESIAN = set(
    """ujian peserta nomor jawaban soal diubah isinya pilihan dijawab tidak menghasilkan
    tersimpan kunci rantai tanpa hilang dihapus mencatat tetapi berisi ditambah""".split()
)


@pytest.mark.parametrize(
    "lang, other", [("id", ENGLISH), ("en", INDONESIAN)], ids=["Indonesian", "English"]
)
def test_the_chain_checks_problems_are_in_the_pages_language(app, tampered, lang, other):
    """Issue 18: the dashboard's verify button lists each departure of a chain (an altered
    row, a deleted one, a count that differs) in the page's language, naming the attempt,
    the candidate, the sitting and the row."""
    admin, row_id = tampered
    admin.get(f"/admin/?lang={lang}")
    page = admin.post("/admin/verify").get_data(as_text=True)
    problems = html.unescape(page.split('class="problems"', 1)[1].split("</div>", 1)[0])
    if lang == "id":
        lines = [
            "ujian peserta 1 (nomor peserta 20260001, sesi 'Sesi Uji'), jawaban soal ke-2 "
            f"(id baris {row_id}): diubah: isinya (soal ",
            " WIB) tidak menghasilkan hash yang tersimpan, baik dengan kunci rantai maupun "
            "tanpa kunci",
            "ujian peserta 2 (nomor peserta 20260002, sesi 'Sesi Uji'), jawaban soal ke-3 "
            "(id baris ",
            "): n 2 rantai, sebelum baris ini, hilang: ada baris yang dihapus",
            "ujian peserta 2 (nomor peserta 20260002, sesi 'Sesi Uji'): ujian peserta mencatat "
            "3 jawaban, tetapi rantainya berisi 2: ada jawaban yang dihapus atau ditambah",
        ]
    else:
        lines = [
            "attempt 1 (registration 20260001, sitting 'Sesi Uji'), response seq 2 "
            f"(row id {row_id}): altered: its fields (item ",
            " WIB) do not give its stored hash, under the chain key or unkeyed",
            "attempt 2 (registration 20260002, sitting 'Sesi Uji'), response seq 3 (row id ",
            "): the chain's n 2, before this row, is missing: rows were deleted",
            "attempt 2 (registration 20260002, sitting 'Sesi Uji'): the attempt counts 3 "
            "responses but its chain has 2: responses were removed or added",
        ]
    assert all(line in problems for line in lines), problems
    with app.app_context():
        words = foreign_words(
            visible(page, typed_data()),
            other | (CHAIN_ENGLISH if lang == "id" else CHAIN_INDONESIAN),
        )
        parts = visible_parts(page, typed_data())
    assert not words, (sorted(words), problems)
    assert not words_not_from_the_catalogue(parts, catalogue(lang)), problems


def test_verify_prints_the_chains_problems_in_english(app, tampered, runner):
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert "attempt 2 (registration 20260002, sitting 'Sesi Uji'): the attempt counts 3 " in (
        result.stderr
    )
    assert not foreign_words(unquoted(result.stderr), CHAIN_INDONESIAN), result.stderr


@pytest.mark.parametrize(
    "lang, other", [("id", ENGLISH), ("en", INDONESIAN)], ids=["Indonesian", "English"]
)
def test_an_item_the_responses_cannot_calibrate_is_named_in_the_pages_language(
    app, admin, lang, other
):
    """A pretest GPCM item nobody scored 1 on (irt/calibration.py refuses it): the page says
    which item, which score and what to do, in the page's language."""
    from cat_server.models import Item

    with app.app_context():
        item = db.session.execute(db.select(Item).filter_by(bank_id=1, code="TKP002")).scalar_one()
        item.status = "pretest"
        db.session.commit()
    admin.get(f"/admin/?lang={lang}")
    response = admin.post(
        "/admin/calibration",
        data={
            "bank_id": "1",
            "model": "gpcm",
            "file": (io.BytesIO(b"person_id,TKP001,TKP002\nP1,0,0\nP2,4,2\nP3,2,4\n"), "j.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    problems = html.unescape(page.split('class="problems-list"', 1)[1].split("</div>", 1)[0])
    assert {
        "id": "Soal 'TKP002': tidak ada yang mendapat skor 1 (skor 0..4), jadi kedua ambang di "
        "sebelah kategori itu tidak dapat diestimasi.",
        "en": "Item 'TKP002': nobody scored 1 (scores 0..4), so the thresholds next to that "
        "category cannot be estimated.",
    }[lang] in problems, problems
    with app.app_context():
        words = foreign_words(visible(page, typed_data()), other)
        parts = visible_parts(page, typed_data())
    assert not words, (sorted(words), problems)
    assert not words_not_from_the_catalogue(parts, catalogue(lang)), problems
