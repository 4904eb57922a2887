"""The response chain (issue 16): honest attempts verify, tampering is found and named.

Honest attempts are answered through the real /exam Socket.IO client: navigable
sections answered out of order, changed and skipped; adaptive and linear
sections straight through. The chain follows storage order (``Response.n``),
which is not seq order as soon as a candidate skips, goes back or changes an
answer.
"""

from __future__ import annotations

import pytest

from cat_server.admin.scores import verify_chains
from cat_server.extensions import db
from cat_server.models import Attempt, Response
from tests.conftest import last_event
from tests.test_sections import build_sitting, connect, emit

pytestmark = pytest.mark.usefixtures("quick_hashes")

TWK = [
    dict(code=f"TWK{i}", section="TWK", model="2pl", a=1.0, b=0.3 * i, key="A") for i in (1, 2, 3)
]
TIU = [
    dict(code=f"TIU{i:02d}", section="TIU", model="2pl", a=1.0 + 0.1 * i, b=-1.5 + 0.3 * i, key="B")
    for i in range(10)
]
TKP = [
    dict(
        code=f"TKP{i}",
        section="TKP",
        model="gpcm",
        a=1.0,
        b=None,
        thresholds=[-1.5, -0.5, 0.5, 1.5],
        option_scores=[1, 2, 3, 4, 5],
    )
    for i in (1, 2)
]
# one attempt meets all three kinds of section: navigable, adaptive, linear
SECTIONS = [
    dict(code="TWK", name="TWK", n_items=3, navigable=True),
    dict(code="TIU", name="TIU", mode="adaptive", n_items=4, min_items=4),
    dict(code="TKP", name="TKP", n_items=2),
]


def answer(sock, state, seq, item, choice):
    ack = emit(sock, "answer", attempt=state["attempt"], seq=seq, item=item, choice=choice)
    assert ack["ok"], ack
    return ack["state"]


def sit_mixed_exam(app, sitting_id, registration_no="R1", device="pc-1"):
    """Navigable TWK out of order with changes and a skip, then adaptive TIU, then linear TKP."""
    _, sock = connect(app, sitting_id, registration_no, device)
    state = last_event(sock, "state", "/exam")
    items = {entry["seq"]: entry["item"]["id"] for entry in state["items"]}
    for seq, choice in [(3, "C"), (1, "A"), (1, "B"), (3, "A"), (1, "D")]:  # seq 2 skipped
        answer(sock, state, seq, items[seq], choice)
    state = emit(sock, "finish_section", attempt=state["attempt"], section=1)["state"]
    while state["status"] == "in_progress":  # adaptive, then linear: the seq asked for
        state = answer(sock, state, state["seq"], state["item"]["id"], "B")
    sock.disconnect(namespace="/exam")
    return state


@pytest.fixture
def mixed_sitting(app):
    with app.app_context():
        return build_sitting(SECTIONS, TWK + TIU + TKP, n_candidates=2)


def test_honest_attempts_with_changed_skipped_and_out_of_order_answers_verify(app, mixed_sitting):
    assert sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")["status"] == "finished"
    assert sit_mixed_exam(app, mixed_sitting, "R2", "pc-2")["status"] == "finished"
    with app.app_context():
        rows = db.session.query(Response).filter_by(attempt_id=1).order_by(Response.n).all()
        # storage order is not seq order: 3, 1, 1, 3, 1, then 4.. (seq 2 never answered)
        assert [r.seq for r in rows] == [3, 1, 1, 3, 1, 4, 5, 6, 7, 8, 9]
        n_attempts, n_responses, problems = verify_chains()
        assert problems == []
        assert (n_attempts, n_responses) == (2, 22)
        assert all(a.chain_head for a in db.session.query(Attempt))


def test_the_issue_case_answer_then_change_it_verifies(app, runner):
    """Issue 16: seq 1 answered A, changed to B; verify said "seq 2 is missing"."""
    sections = [dict(code="TWK", name="TWK", n_items=3, navigable=True)]
    with app.app_context():
        sitting_id = build_sitting(sections, TWK)
    _, sock = connect(app, sitting_id)
    state = last_event(sock, "state", "/exam")
    item = state["items"][0]["item"]["id"]
    answer(sock, state, 1, item, "A")
    answer(sock, state, 1, item, "B")
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 1 attempts, 2 responses" in result.stdout


# --- tampering: each kind found and named ------------------------------------------


def row_at(attempt_id: int, n: int) -> Response:
    return db.session.query(Response).filter_by(attempt_id=attempt_id, n=n).one()


def edit_the_latest_answer(attempt_id):
    """A wrong final answer made right: choice and score, hash left as it was."""
    row = row_at(attempt_id, 5)  # seq 1 answered D last: 0 points
    row.choice, row.score = "A", 5
    return row.id, "altered: its fields (item"


def delete_a_row(attempt_id):
    row = row_at(attempt_id, 2)
    db.session.delete(row)
    return row_at(
        attempt_id, 3
    ).id, "the chain's n 2, before this row, is missing: rows were deleted"


def delete_a_row_and_renumber(attempt_id):
    """The gap closed: n 3, 4, ... moved down by one, n_responses one less."""
    db.session.delete(row_at(attempt_id, 2))
    db.session.flush()
    rows = db.session.query(Response).filter_by(attempt_id=attempt_id).order_by(Response.n).all()
    for row in rows[1:]:
        row.n -= 1
        db.session.flush()
    db.session.get(Attempt, attempt_id).n_responses -= 1
    return rows[1].id, "its prev_hash is no row's hash: the row before it was altered or deleted"


def swap_two_rows(attempt_id):
    """seq 1's answers B (n 3) and D (n 5) swapped: the earlier B now counts as the latest."""
    first, last = row_at(attempt_id, 3), row_at(attempt_id, 5)
    first.n = -1
    db.session.flush()
    last.n = 3
    db.session.flush()
    first.n = 5
    return last.id, "out of order: it follows the row now at n 4, not n 2: rows were reordered"


def change_the_head(attempt_id):
    db.session.get(Attempt, attempt_id).chain_head = "f" * 64
    return None, "the attempt's chain head is not its last response's hash"


@pytest.mark.parametrize(
    "tamper",
    [
        edit_the_latest_answer,
        delete_a_row,
        delete_a_row_and_renumber,
        swap_two_rows,
        change_the_head,
    ],
)
def test_each_kind_of_tampering_is_found_and_named(app, mixed_sitting, runner, tamper):
    sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")
    sit_mixed_exam(app, mixed_sitting, "R2", "pc-2")
    assert runner.invoke(args=["verify"]).exit_code == 0
    with app.app_context():
        row_id, says = tamper(1)
        db.session.commit()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    where = "attempt 1 (registration R1, sitting 'Sesi')"
    if row_id is not None:
        where += ", response seq "
    lines = [line for line in result.stderr.splitlines() if says in line]
    assert lines and all(line.startswith(where) for line in lines), result.stderr
    if row_id is not None:
        assert any(f"(row id {row_id}): {says}" in line for line in lines), result.stderr
    assert "R2" not in result.stderr  # the other attempt is intact
    assert "TAMPERED" in result.stderr
