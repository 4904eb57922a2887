"""Items of one enemy group never share an attempt, in fixed sections too (issue 17)."""

import pytest

from cat_server.admin.sittings import FormProblems, create_exam
from cat_server.extensions import db
from cat_server.models import Item, ItemBank, Presentation
from tests.conftest import last_event
from tests.test_sections import build_sitting, connect, emit

# TWK1 and TWK2 give each other's answer away; so do TWK3 and TWK4
ITEMS = [
    dict(code=f"TWK{i}", section="TWK", model="2pl", a=1.0, b=0.1 * i, key="A", enemy_group=g)
    for i, g in enumerate(["sila", "sila", "uud", "uud", None, None], start=1)
]


@pytest.mark.parametrize("navigable", [True, False], ids=["navigable", "linear"])
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "bank-order"])
def test_a_fixed_form_gives_one_item_of_each_enemy_group(app, navigable, shuffle):
    section = dict(code="TWK", name="TWK", n_items=4, navigable=navigable, shuffle=shuffle)
    with app.app_context():
        sitting_id = build_sitting([section], ITEMS, n_candidates=12)
        codes = {i.id: i.code for i in db.session.query(Item)}
    forms = []
    for n in range(1, 13):
        _, sock = connect(app, sitting_id, f"R{n}", device=f"pc-{n}")
        state = last_event(sock, "state", "/exam")
        assert state["total"] == 4 and state["section"]["max_items"] == 4
        while state["status"] == "in_progress":  # answer every item, then finish
            if navigable:
                for entry in state["items"]:
                    answer = dict(seq=entry["seq"], item=entry["item"]["id"], choice="A")
                    assert emit(sock, "answer", attempt=state["attempt"], **answer)["ok"]
                ack = emit(sock, "finish_section", attempt=state["attempt"], section=1)
            else:
                answer = dict(seq=state["seq"], item=state["item"]["id"], choice="A")
                ack = emit(sock, "answer", attempt=state["attempt"], **answer)
            state = ack["state"]
        with app.app_context():
            shown = db.session.scalars(
                db.select(Presentation.item_id)
                .where(Presentation.attempt_id == state["attempt"])
                .order_by(Presentation.seq)
            ).all()
        forms.append([codes[i] for i in shown])
    for form in forms:
        assert len(form) == 4
        assert not {"TWK1", "TWK2"} <= set(form) and not {"TWK3", "TWK4"} <= set(form), form
    if shuffle:
        assert len({tuple(f) for f in forms}) > 1  # still a form of each attempt's own


def test_an_exam_asking_more_items_than_enemy_groups_allow_is_refused(app):
    with app.app_context():
        bank = ItemBank(name="Bank", version=1)
        db.session.add(bank)
        db.session.flush()
        for position, fields in enumerate(ITEMS, start=1):
            db.session.add(
                Item(bank_id=bank.id, position=position, options=["a", "b"], stem="?", **fields)
            )
        db.session.commit()
        with pytest.raises(FormProblems) as refused:
            create_exam("Ujian", bank.id, 30, "TWK, Wawasan, 5", None, "user:1")
        assert "hanya 4 dari 6 soal aktif TWK bisa bersama dalam satu ujian" in str(
            refused.value.problems
        )
        assert create_exam("Ujian", bank.id, 30, "TWK, Wawasan, 4", None, "user:1").id


def test_an_enemy_group_across_two_sections_is_refused(app):
    with app.app_context():
        bank = ItemBank(name="Bank", version=1)
        db.session.add(bank)
        db.session.flush()
        tiu = dict(
            code="TIU1", section="TIU", model="2pl", a=1.0, b=0.0, key="A", enemy_group="sila"
        )
        for position, fields in enumerate([*ITEMS, tiu], start=1):
            db.session.add(
                Item(bank_id=bank.id, position=position, options=["a", "b"], stem="?", **fields)
            )
        db.session.commit()
        with pytest.raises(FormProblems) as refused:
            create_exam("Ujian", bank.id, 30, "TWK, Wawasan, 4\nTIU, Intelegensia, 1", None, "x")
        # no request: the Indonesian source words, as the CLI prints them
        assert "kelompok musuh 'sila' ada di bagian TWK dan TIU" in str(refused.value.problems)


@pytest.mark.parametrize("n_items", [4, 5])
def test_a_thousand_drawn_forms_never_hold_two_items_of_a_group(app, n_items):
    """Issue 17: over 1,000 shuffled forms (one per attempt seed), one item of each group."""
    from types import SimpleNamespace

    from cat_server.exam import catalog
    from cat_server.models import ExamSection, Sitting

    items = [*ITEMS, dict(ITEMS[4], code="TWK7"), dict(ITEMS[0], code="TWK8")]  # 'sila' x3
    with app.app_context():
        sitting_id = build_sitting(
            [dict(code="TWK", name="TWK", n_items=n_items, shuffle=True)], items
        )
        exam = db.session.get(Sitting, sitting_id).exam
        section = db.session.execute(
            db.select(ExamSection).where(ExamSection.exam_id == exam.id)
        ).scalar_one()
        groups = {i.id: i.enemy_group for i in db.session.query(Item)}
        forms = set()
        for seed in range(1000):
            form = catalog.draw_fixed_form(SimpleNamespace(seed=seed), exam, section)
            assert len(form) == min(n_items, 5) == catalog.fixed_form_length(exam, section)
            named = [groups[i] for i in form if groups[i]]
            assert len(named) == len(set(named)), form
            forms.add(tuple(form))
    assert len(forms) > 100  # still drawn per attempt
