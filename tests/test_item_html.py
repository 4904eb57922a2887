"""Item HTML reaches a workstation sanitised, however the row was written (issue 19)."""

from __future__ import annotations

from cat_server.exam.catalog import public_item
from cat_server.extensions import db
from cat_server.itembank.service import import_bank
from cat_server.models import Item, ItemBank

HOSTILE = (
    '<p>Tabel <b>pegawai</b></p><table><tr><td colspan="2" onclick="x()">120</td></tr></table>'
    '<script>alert(1)</script><img src="a.png" onerror="alert(2)"><a href="javascript:x()">y</a>'
)
CLEAN = (
    '<p>Tabel <b>pegawai</b></p><table><tbody><tr><td colspan="2">120</td></tr></tbody></table>'
    '<img src="a.png">y'
)


def test_a_row_written_past_the_importer_is_sanitised_before_it_is_sent(app):
    with app.app_context():
        bank = ItemBank(name="b", version=1)
        db.session.add(bank)
        db.session.flush()
        item = Item(
            bank_id=bank.id, code="X1", position=1, section="TWK", model="2pl", a=1.0, b=0.0,
            stem=HOSTILE, options=["<i>satu</i><script>x()</script>", "4 < 5 & 6"], key="A",
        )  # fmt: skip
        db.session.add(item)
        db.session.commit()
        public = public_item(item.id)
    # the bank's image is served by its place in the item (itembank/inline.py)
    assert public["stem"] == CLEAN.replace('src="a.png"', f'src="/exam/media/{item.id}/0"')
    assert public["options"] == [
        {"label": "A", "text": "<i>satu</i>"},
        {"label": "B", "text": "4 < 5 & 6"},
    ]


def test_the_importer_stores_item_html_sanitised(app, tmp_path):
    bank_file = tmp_path / "bank.csv"
    quoted = HOSTILE.replace('"', '""')
    bank_file.write_text(
        "item_id,section,model,a,b,stem,option_a,option_b,key\n"
        f'X1,TWK,2pl,1,0,"{quoted}",<b>ya</b>,"<img src=x onerror=alert(3)>",A\n',
        encoding="utf-8",
    )
    with app.app_context():
        bank = import_bank(bank_file, "Bank HTML")
        (item,) = bank.items
        assert item.stem == CLEAN
        assert item.options == ["<b>ya</b>", '<img src="x">']
