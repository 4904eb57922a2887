"""Item bank files: whole-file validation with file/row/column messages, round trips, demo bank."""

import csv
import io
import json
import sys
from collections import Counter
from fractions import Fraction

import pytest

from cat_server.itembank.formats import (
    COLUMNS,
    DEMO_BANK,
    MODELS,
    BankFormatError,
    ItemRow,
    read_bank,
    write_bank,
)
from cat_server.itembank.formats.columns import MAX_ID_LENGTH, MAX_LENGTHS
from cat_server.models import Item

HEADER = [
    "item_id", "section", "model", "a", "b", "c", "d", "b1", "b2", "b3", "b4",
    "stem", "option_a", "option_b", "option_c", "option_d", "option_e",
    "key", "score_a", "score_b", "score_c", "score_d", "score_e", "status",
]  # fmt: skip


def twk(**changes):
    row = dict(
        item_id="TWK001", section="TWK", model="2pl", a="1.2", b="-0.5", stem="Dasar negara?"
    )
    row.update(option_a="Pancasila", option_b="Piagam", option_c="UUD", key="A")
    row.update(changes)
    return row


def tkp(**changes):
    row = dict(item_id="TKP001", section="TKP", model="gpcm", a="0.9", b1="-2", b2="-1", b3="0")
    row.update(b4="1", stem="Sikap Anda?", option_a="p", option_b="q", option_c="r", option_d="s")
    row.update(option_e="t", score_a="3", score_b="5", score_c="1", score_d="2", score_e="4")
    row.update(changes)
    return row


def good_rows():
    return [
        twk(),
        twk(item_id="TIU001", section="TIU", model="3pl", c="0.2", key="C"),
        tkp(),
        twk(item_id="TWK002", model="1pl", a=""),
        twk(item_id="TWK003", model="4pl", c="0.1", d="0.95", key="B", status="pretest"),
    ]


def to_csv(rows, header=HEADER, delimiter=","):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue()


def read_csv(rows, header=HEADER, name="bank.csv"):
    return read_bank(io.BytesIO(to_csv(rows, header).encode()), filename=name)


def problems(rows, header=HEADER, name="bank.csv"):
    with pytest.raises(BankFormatError) as info:
        read_csv(rows, header, name)
    return info.value


def test_good_csv_is_read_with_defaults():
    items = read_csv(good_rows())
    assert [i.item_id for i in items] == ["TWK001", "TIU001", "TKP001", "TWK002", "TWK003"]
    first, tiu, poly, rasch, four = items
    assert (first.model, first.a, first.b, first.c, first.d) == ("2pl", 1.2, -0.5, 0.0, 1.0)
    assert first.options == ("Pancasila", "Piagam", "UUD") and first.key == "A"
    assert first.status == "active" and first.enemy_group is None and first.media is None
    assert first.thresholds == () and first.option_scores is None
    assert tiu.c == 0.2
    assert poly.b is None and poly.key is None
    assert poly.thresholds == (-2.0, -1.0, 0.0, 1.0) and poly.option_scores == (3, 5, 1, 2, 4)
    assert poly.is_polytomous and poly.max_score == 5
    assert rasch.a == 1.0
    assert (four.c, four.d, four.status) == (0.1, 0.95, "pretest")


def test_text_is_kept_but_surrounding_whitespace_stripped():
    (item,) = read_csv([twk(stem="  <b>Sila</b> pertama?\n", option_a=" Ketuhanan ")])
    assert item.stem == "<b>Sila</b> pertama?" and item.options[0] == "Ketuhanan"


def test_bom_case_and_spaces_in_header_are_tolerated():
    header, body = to_csv([twk()]).split("\r\n", 1)
    text = ",".join(f" {h.upper()} " for h in header.split(",")) + "\r\n" + body
    (item,) = read_bank(io.BytesIO(b"\xef\xbb\xbf" + text.encode()), filename="bank.csv")
    assert item.item_id == "TWK001"


def test_indonesian_excel_csv_with_semicolons_and_decimal_commas():
    text = to_csv([twk(a="1,2", b="−0,5")], delimiter=";")  # U+2212 minus, as Word writes it
    (item,) = read_bank(io.StringIO(text), filename="bank.csv")
    assert (item.a, item.b) == (1.2, -0.5)


def test_polytomous_item_with_fewer_categories():
    row = tkp(
        option_d="", option_e="", score_d="", score_e="", score_a="2", score_b="3", b3="", b4=""
    )
    (item,) = read_csv([row])
    assert item.options == ("p", "q", "r") and item.thresholds == (-2.0, -1.0)


# Every kind of problem names the file, the row (header = row 1) and the column.
BAD_ROWS = [
    (twk(a="abc"), "a", "expected a number, got 'abc'"),
    (twk(b="nan"), "b", "expected a number"),
    (twk(a="0"), "a", "a must be in (0, 4], got 0"),
    (twk(a="4.5"), "a", "a must be in (0, 4]"),
    (twk(b="-7"), "b", "b must be in [-6, 6], got -7"),
    (twk(model="3pl", c="0.5"), "c", "c must be in [0, 0.5)"),
    (twk(model="4pl", d="0.5"), "d", "d must be in (0.5, 1]"),
    (twk(c="0.2"), "c", "c applies to 3pl and 4pl items"),
    (twk(d="0.9"), "d", "d applies to 4pl items"),
    (twk(a=""), "a", "a (discrimination) is required for 2pl"),
    (twk(b=""), "b", "b (difficulty) is required for 2pl"),
    (twk(model="5pl"), "model", "expected one of 1pl, 2pl, 3pl, 4pl, grm, gpcm, got '5pl'"),
    (twk(key="F"), "key", "expected one of A..E naming a non-empty option, got 'F'"),
    (twk(key="D"), "key", "naming a non-empty option, got 'D'"),
    (twk(key=""), "key", "key is required for 2pl items"),
    (twk(score_a="5"), "score_a", "option scores are for grm/gpcm items"),
    (twk(b1="0.5"), "b1", "thresholds b1..b4 are for grm/gpcm"),
    (twk(status="draft"), "status", "expected one of active, pretest, retired"),
    (twk(item_id=""), "item_id", "item_id is required"),
    (twk(item_id="TWK 1"), "item_id", "without spaces"),
    (twk(section=""), "section", "section is required"),
    (twk(stem=""), "stem", "stem (the question text) is required"),
    (twk(option_b="", option_c=""), "option_b", "at least two options"),
    (twk(option_b="", option_d="x"), "option_c", "options must be filled from A without gaps"),
    (twk(option_c="Pancasila"), "option_c", "same text as option A"),
    (tkp(score_b="6"), "score_b", "expected a whole number from 1 to 5, got '6'"),
    (tkp(score_b="2.5"), "score_b", "expected a whole number from 1 to 5"),
    (tkp(score_b=""), "score_b", "each non-empty option needs a score"),
    (tkp(option_e="", score_e="4", b4=""), "score_e", "score given for an empty option"),
    (tkp(score_c="5"), "score_a", "missing 1"),
    (tkp(key="B"), "key", "key is for dichotomous items"),
    (tkp(b="0.3"), "b", "b is for dichotomous items"),
    (tkp(b4=""), "b4", "gpcm items scored 1..5 need 4 thresholds b1..b4, got 3"),
    (tkp(b2="", b3="", b4=""), "b2", "need 4 thresholds b1..b4, got 1"),
    (tkp(b2=""), "b2", "thresholds must be filled from b1 without gaps"),
    (tkp(b3="-1.5"), "b3", "thresholds must increase: b3=-1.5 is not above b2=-1"),
    (tkp(b1="-7"), "b1", "thresholds must be in [-6, 6]"),
    (tkp(model="grm", a=""), "a", "a (discrimination) is required for grm"),
]


@pytest.mark.parametrize(("row", "column", "message"), BAD_ROWS)
def test_bad_value_is_reported_with_file_row_and_column(row, column, message):
    error = problems([twk(item_id="OK1"), row, twk(item_id="OK2")])
    lines = str(error).splitlines()
    assert any(line.startswith(f"bank.csv, row 3, column {column}: ") for line in lines), lines
    assert message in str(error)
    assert all(p.row == 3 and p.file == "bank.csv" for p in error.errors)


def test_one_bad_row_among_good_ones_raises_and_returns_nothing():
    rows = good_rows() + [twk(item_id="TWK099", key="F")]
    with pytest.raises(BankFormatError) as info:
        read_csv(rows)
    assert len(info.value.errors) == 1
    assert str(info.value) == (
        "bank.csv, row 7, column key: expected one of A..E naming a non-empty option, got 'F'"
    )


def test_every_problem_is_listed_not_just_the_first():
    error = problems([twk(a="x"), twk(item_id="B", key="Z"), twk(item_id="C", status="?")])
    assert [(p.row, p.column) for p in error.errors] == [(2, "a"), (3, "key"), (4, "status")]


def test_duplicate_item_ids_name_both_rows():
    error = problems([twk(), tkp(), twk(item_id="twk001")])
    assert (
        str(error)
        == "bank.csv, row 4, column item_id: duplicate item_id 'twk001': row 2 has 'TWK001'"
    )


def test_missing_required_columns_are_named():
    header = [h for h in HEADER if h not in ("stem", "option_b")]
    error = problems([twk()], header=header)
    lines = str(error).splitlines()
    assert "bank.csv, row 1, column stem: required column is missing from the header" in lines
    assert "bank.csv, row 1, column option_b: required column is missing from the header" in lines


def test_unknown_column_is_rejected_with_a_suggestion():
    header = [h if h != "option_c" else "optoin_c" for h in HEADER]
    error = problems([twk()], header=header)
    assert str(error).splitlines()[0] == (
        "bank.csv, row 1, column optoin_c: unknown column 'optoin_c' (column 15 of the header);"
        " did you mean option_c?"
    )


def test_duplicate_header_column_is_rejected():
    error = problems([twk()], header=HEADER + ["key"])
    assert "bank.csv, row 1, column key: this column appears twice in the header" in str(error)


def test_value_under_a_blank_header_is_rejected():
    text = to_csv([twk()]).replace("status\r\n", "status,\r\n").replace(",,\r\n", ",,,surprise\r\n")
    with pytest.raises(BankFormatError, match=r"bank.csv, row 2, column #25: value 'surprise'"):
        read_bank(io.StringIO(text), filename="bank.csv")


def test_blank_rows_are_skipped_and_row_numbers_stay_true():
    text = to_csv([twk(), {}, twk(item_id="X", key="Q")])
    with pytest.raises(BankFormatError, match=r"^bank.csv, row 4, column key:"):
        read_bank(io.StringIO(text), filename="bank.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "bank.csv: the file is empty"),
        (b"\xef\xbb\xbf \r\n", "bank.csv: the file is empty"),
        (",".join(HEADER).encode() + b"\r\n", "bank.csv: the file has a header but no items"),
        (b"\r\nitem_id\r\n", "bank.csv: row 1 must be the header"),
        (
            "item_id,stem\r\nX,Pilihan “benar”\r\n".encode("cp1252"),
            "bank.csv: the file is not UTF-8",
        ),
        ("item_id\r\nX\r\n".encode("utf-16"), "bank.csv: the file is UTF-16"),
        (b'item_id,stem\r\nX,"a"b"\r\n', "bank.csv: the CSV cannot be read near line 2"),
    ],
)
def test_unreadable_files_get_a_clear_message(data, message):
    with pytest.raises(BankFormatError) as info:
        read_bank(io.BytesIO(data), filename="bank.csv")
    assert message in str(info.value).splitlines()[-1]


def test_non_utf8_message_says_how_to_fix_it():
    data = to_csv([twk(stem="Pilihan “benar”")]).encode("cp1252")
    with pytest.raises(BankFormatError, match=r"not UTF-8 \(byte 0x93 on line 2\).*CSV UTF-8"):
        read_bank(io.BytesIO(data), filename="bank.csv")


def test_problem_list_is_capped():
    error = problems([twk(item_id=f"I{n}", key="F") for n in range(80)])
    assert len(error.errors) == 50 and error.n_problems == 80
    assert str(error).splitlines()[-1] == "... and 30 more problems"


def test_format_comes_from_the_name_or_fmt():
    text = to_csv([twk()])
    assert read_bank(io.StringIO(text), fmt="csv")[0].item_id == "TWK001"
    with pytest.raises(BankFormatError, match="^upload: cannot tell the file format"):
        read_bank(io.StringIO(text), filename="upload")
    with pytest.raises(BankFormatError, match=r"^bank.txt: unknown file format 'txt'"):
        read_bank(io.StringIO(text), filename="bank.txt")


def test_path_is_read_and_named_by_its_base_name(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(to_csv([twk(key="X")]), encoding="utf-8")
    with pytest.raises(BankFormatError, match=r"^bank.csv, row 2, column key"):
        read_bank(path)


# JSON: a list of objects or {"items": [...]}, numbered "item N".


def json_rows(rows):
    return [{k: v for k, v in row.items() if v != ""} for row in rows]


def read_json(data, name="bank.json"):
    return read_bank(io.BytesIO(json.dumps(data).encode()), filename=name)


def test_json_list_and_items_object_are_read():
    items = read_json(json_rows(good_rows()))
    assert items == read_csv(good_rows())
    assert read_json({"items": json_rows(good_rows()), "version": 1}) == items


def test_json_takes_numbers_as_numbers():
    (item,) = read_json(
        [
            dict(twk(a=1.5, b=0), item_id=101),
        ]
    )
    assert (item.item_id, item.a, item.b) == ("101", 1.5, 0.0)
    (item,) = read_json([dict(tkp(), score_a=3, b1=-2.0)])
    assert item.option_scores[0] == 3


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (twk(key="F"), "bank.json, item 2, column key: expected one of A..E"),
        (twk(a=True), "bank.json, item 2, column a: expected a number, got True"),
        (twk(stem=["x"]), "bank.json, item 2, column stem: expected text, got ['x']"),
        (dict(twk(), optoin_d="x"), "bank.json, item 2, column optoin_d: unknown column 'optoin_d'; did you mean option_d?"),
        ("TWK", "bank.json, item 2: expected an object"),
    ],
)  # fmt: skip
def test_json_problems_name_the_item_and_column(item, message):
    with pytest.raises(BankFormatError) as info:
        read_json([tkp(), item])
    assert str(info.value).startswith(message)


def test_json_duplicate_key_in_one_item_is_rejected():
    text = '[{"item_id": "A", "key": "B", "key": "C"}]'
    with pytest.raises(
        BankFormatError, match=r"bank.json, item 1, column key: this column is given twice"
    ):
        read_bank(io.StringIO(text), filename="bank.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bank.json: the file is empty"),
        ("[]", "bank.json: the file has no items"),
        ('{"itemz": []}', 'bank.json: expected a list of items or an object with an "items" list'),
        ("[{]", "bank.json: invalid JSON at line 1, character 3"),
    ],
)
def test_unreadable_json_gets_a_clear_message(text, message):
    with pytest.raises(BankFormatError) as info:
        read_bank(io.StringIO(text), filename="bank.json")
    assert str(info.value).startswith(message)


# Writing


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_write_then_read_round_trips(fmt, tmp_path):
    rows = read_csv(good_rows()) + [
        ItemRow("TIU777", "TIU", "2pl", 0.123456789, 1 / 3, 0.0, 1.0, (), "Baris 1\nbaris 2, \"kutip\"",
                ("α", "β"), "B", None, "retired", "grup-1", "img/tiu777.png"),
    ]  # fmt: skip
    buffer = io.StringIO()
    write_bank(rows, buffer, fmt=fmt)
    assert read_bank(io.StringIO(buffer.getvalue()), fmt=fmt) == rows
    binary = io.BytesIO()
    write_bank(rows, binary, fmt=fmt)
    assert read_bank(io.BytesIO(binary.getvalue()), fmt=fmt) == rows
    path = tmp_path / f"bank.{fmt}"
    write_bank(rows, path, fmt=fmt)
    assert read_bank(path) == rows


def test_written_csv_has_every_column_in_order():
    buffer = io.StringIO()
    write_bank(read_csv([twk()]), buffer)
    header, line = buffer.getvalue().splitlines()
    assert header == ",".join(COLUMNS)
    assert line.startswith("TWK001,TWK,2pl,1.2,-0.5,0,1,,,,,Dasar negara?,")


def test_text_limits_are_the_database_column_sizes():
    """A cell longer than its column in the database is a problem of the file, not a 500."""
    assert Item.__table__.c.code.type.length == MAX_ID_LENGTH
    for column, limit in MAX_LENGTHS.items():
        assert Item.__table__.c[column].type.length == limit, column
    error = problems([twk(section="S" * 33, enemy_group="E" * 65)], HEADER + ["enemy_group"])
    assert {(p.column, p.message) for p in error.errors} == {
        ("section", "section may have at most 32 characters, got 33"),
        ("enemy_group", "enemy_group may have at most 64 characters, got 65"),
    }


def test_xlsx_without_openpyxl_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(BankFormatError, match="^bank.xlsx: XLSX support needs openpyxl"):
        read_bank(io.BytesIO(b"PK"), filename="bank.xlsx")
    with pytest.raises(BankFormatError, match="XLSX support needs openpyxl"):
        write_bank([], io.BytesIO(), fmt="xlsx")


def test_xlsx_round_trip():
    pytest.importorskip("openpyxl")
    rows = read_csv(good_rows())
    buffer = io.BytesIO()
    write_bank(rows, buffer, fmt="xlsx")
    buffer.seek(0)
    assert read_bank(buffer, filename="bank.xlsx") == rows


# The demo bank


def test_demo_bank_parses_with_every_section():
    items = read_bank(DEMO_BANK)
    counts = Counter(i.section for i in items if i.status == "active")
    # an SKD-like blueprint (TWK 30, TIU 35, TKP 45) with a few items to spare
    minimum = {"TWK": 33, "TIU": 38, "TKP": 47}
    assert all(counts[s] >= n for s, n in minimum.items()), counts
    for item in items:
        if item.section == "TKP":
            assert item.model == "gpcm" and sorted(item.option_scores) == [1, 2, 3, 4, 5]
            assert len(item.thresholds) == 4
        else:
            assert item.model in ("2pl", "3pl") and len(item.options) == 5
            assert 0.6 <= item.a <= 2.0 and -2 <= item.b <= 2
            assert item.c == (0.2 if item.model == "3pl" else 0.0)
    keys = Counter(i.key for i in items if i.key)
    assert set(keys) == set("ABCDE") and max(keys.values()) < 2 * min(keys.values())


def _answer(item):
    return item.options["ABCDE".index(item.key)]


def test_demo_bank_tiu_keys_match_the_arithmetic():
    items = {i.item_id: i for i in read_bank(DEMO_BANK)}
    expected = {
        "series 2, 5, 10, 17, 26": str(6 * 6 + 1),
        "3, 6, 12, 24, 48": str(48 * 2),
        "1, 1, 2, 3, 5, 8, 13": str(8 + 13),
        "100, 95, 85, 70, 50": str(50 - 25),
        "2, 3, 5, 7, 11, 13": "17",
        "5, 10, 8, 16, 14, 28": str(28 - 2),
        "A, C, F, J, O": chr(ord("O") + 6),
        "1, 2, 6, 24, 120": str(120 * 6),
        "diskon 20%": f"Rp{round(150_000 * 0.8 * 1.1):,}".replace(",", "."),
        "12 orang dalam 15 hari": str(12 * 15 // 10),
        "pukul 07.15": f"{60 * 2.5:g} km",
        "3 : 5": f"Rp{60_000 // 2 * 8:,}".replace(",", "."),
        "rata-rata nilai keenam": str(6 * 74 - 5 * 72),
        "naik 25%": f"Rp{250_000 * 4 // 5:,}".replace(",", "."),
        "3/4 + 2/3": str(Fraction(3, 4) + Fraction(2, 3) - Fraction(5, 6)),
        "pipa B dalam 3 jam": f"{1 / (Fraction(1, 6) + Fraction(1, 3))} jam",
        "0,25 × 480": f"{0.25 * 480 + 0.15 * 200:g}",
        "100 hari lagi": "Jumat",
        "3, 5, 9, 17, 33": str(33 * 2 - 1),
        "2, 6, 7, 21, 22, 66": str(66 + 1),
        "pintu selebar 1 m": f"{2 * (8 + 48 // 8) - 1} m",
        "65% dinyatakan lulus": str(240 - 240 * 65 // 100),
    }
    for needle, answer in expected.items():
        needle = needle.removeprefix("series ")
        (item,) = [i for i in items.values() if i.section == "TIU" and needle in i.stem]
        assert _answer(item) == answer, item.item_id


DOCS = DEMO_BANK.parent.parent.parent / "docs"


@pytest.mark.parametrize("name", ["item_bank_example.csv", "item_bank_example.json"])
def test_example_files_parse_and_cover_every_model(name):
    items = read_bank(DOCS / "examples" / name)
    assert sorted(i.model for i in items) == sorted(MODELS)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_examples_in_formats_doc_parse(fmt):
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    block = text.split(f"```{fmt}\n", 1)[1].split("```", 1)[0]
    assert read_bank(io.StringIO(block), fmt=fmt)
