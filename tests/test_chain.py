"""The response chain (issue 16): honest attempts verify, tampering is found and named.

Honest attempts are answered through the real /exam Socket.IO client: navigable
sections answered out of order, changed and skipped; adaptive and linear
sections straight through. The chain follows storage order (``Response.n``),
which is not seq order as soon as a candidate skips, goes back or changes an
answer.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from flask import Flask

from cat_server.admin.scores import verify_chains
from cat_server.exam import chain
from cat_server.extensions import db
from cat_server.models import Attempt, Response
from tests.conftest import last_event, login_staff, make_user
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


# --- the keyed chain: a database writer without the key cannot forge ------------------


def rewrite_chain(attempt_id: int, key: bytes | None, edit=None, from_n: int = 1):
    """What someone with database access does: edit a row, then recompute every link after it.

    ``key=None``: the plain SHA-256 anyone can compute, from 64 zeros (a chain of before
    the key); else from the genesis it had. ``edit(row)`` changes the row at n 5.
    """
    attempt = db.session.get(Attempt, attempt_id)
    rows = db.session.query(Response).filter_by(attempt_id=attempt_id).order_by(Response.n).all()
    if from_n > 1:
        prev = rows[from_n - 2].hash
    else:
        prev = chain.GENESIS if key is None else rows[0].prev_hash
    for row in rows[from_n - 1 :]:
        if edit is not None and row.n == 5:
            edit(row)
        fields = (row.attempt_id, row.seq, row.item_id, row.choice, row.score, row.answered_at)
        row.prev_hash, row.hash = prev, chain.chain_hash(prev, *fields, key=key)
        prev = row.hash
    attempt.chain_head = prev
    db.session.commit()


def make_it_right(row):
    row.choice, row.score = "A", 5


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "(row id 1): unkeyed: this row (and 10 rows after it) carries the plain SHA-256"),
        (b"a guess at the centre's chain key, 32+ bytes", "(row id 1): altered"),
    ],
    ids=["plain-sha256", "wrong-key"],
)
def test_a_rewritten_row_with_a_recomputed_chain_is_tampered(app, mixed_sitting, runner, key, says):
    sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")
    sit_mixed_exam(app, mixed_sitting, "R2", "pc-2")
    with app.app_context():
        rewrite_chain(1, key, edit=make_it_right)  # every link and the head consistent again
        row = row_at(1, 5)
        assert (row.choice, row.score) == ("A", 5)
        assert row.hash == chain.chain_hash(
            row.prev_hash, 1, row.seq, row.item_id, "A", 5, row.answered_at, key=key
        )
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert "TAMPERED" in result.stderr
    assert f"attempt 1 (registration R1, sitting 'Sesi'), response seq 3 {says}" in result.stderr
    assert "R2" not in result.stderr
    with app.app_context():
        make_user("admin", "admin", "admin-pass-1")
        key_id = chain.key_id(chain.chain_key())
    client = app.test_client()
    assert login_staff(client, "admin", "admin-pass-1").status_code == 302
    page = client.post("/admin/verify?lang=en").get_data(as_text=True)  # the dashboard's button
    assert "(row id 1): " + says.split("(row id 1): ")[1] in page
    assert f"id {key_id}" in page and "Every chain is intact" not in page


def test_attempts_from_before_the_key_verify_only_up_to_the_configured_id(app, runner):
    """An upgraded centre: attempt 1 was chained with plain SHA-256 before the key existed.

    Attempt 2 began plain and went on keyed after the upgrade (in progress then).
    Attempt 3, made after, rewritten with plain SHA-256, is a forgery whatever the setting.
    """
    with app.app_context():
        sitting_id = build_sitting(SECTIONS, TWK + TIU + TKP, n_candidates=3)
    for i in (1, 2, 3):
        sit_mixed_exam(app, sitting_id, f"R{i}", f"pc-{i}")
    with app.app_context():
        rewrite_chain(1, None)
        # rows 1..4 plain (before the upgrade), 5.. keyed (after it)
        rewrite_chain(2, None)
        rewrite_chain(2, chain.chain_key(), from_n=5)
    app.config["CHAIN_UNKEYED_UNTIL"] = 0  # not yet set: the old attempts are named
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert {line.split(" ")[1] for line in result.stderr.splitlines()[:-1]} == {"1", "2"}

    app.config["CHAIN_UNKEYED_UNTIL"] = 2
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 3 attempts, 33 responses" in result.stdout

    with app.app_context():
        rewrite_chain(3, None, edit=make_it_right)
        rewrite_chain(2, None, from_n=8)  # once keyed, keyed to the end: n 8.. made plain
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    named = [line for line in result.stderr.splitlines() if "unkeyed" in line]
    assert len(named) == 2
    assert named[0].startswith("attempt 2 ") and "seq 6 (row id 19): unkeyed" in named[0]
    assert "(and 3 rows after it)" in named[0]
    assert named[1].startswith("attempt 3 ") and "(and 10 rows after it)" in named[1]


def test_verify_says_which_key_it_used(app, mixed_sitting, runner):
    sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")
    result = runner.invoke(args=["verify"])
    with app.app_context():
        key_id = chain.key_id(chain.chain_key())
    assert f"Chain key: the public test key, id {key_id}" in result.stdout


# --- where the key lives -----------------------------------------------------------


def test_the_key_file_is_made_once_private_and_never_replaced(tmp_path):
    path = tmp_path / "instance" / "chain_key"
    key = chain.key_from_file(path)
    assert len(key) == 64 and int(key, 16) >= 0
    assert path.stat().st_mode & 0o777 == 0o600
    assert chain.key_from_file(path) == key
    assert list(path.parent.iterdir()) == [path]  # no draft left behind
    path.write_text("short\n")
    with pytest.raises(chain.ChainKeyError, match="fewer than 32 bytes"):
        chain.key_from_file(path)
    assert path.read_text() == "short\n"  # kept: a new key would orphan every chain


def test_cat_chain_key_wins_over_the_instance_file(tmp_path, monkeypatch):
    def resolved(**config):
        app = Flask("chain-test", instance_path=str(tmp_path))
        app.config.update(config)
        chain.init_app(app)
        return app.extensions["cat_chain_key"], app.extensions["cat_chain_key_source"]

    monkeypatch.delenv("CAT_CHAIN_KEY", raising=False)
    key, source = resolved()
    assert key == (tmp_path / "chain_key").read_text().strip().encode()
    assert source.startswith(str(tmp_path / "chain_key"))
    written = "20261206" + "31415926535897932384626433832795"  # digits: JSON would parse it
    monkeypatch.setenv("CAT_CHAIN_KEY", written)  # as written
    assert resolved(CHAIN_KEY=1234) == (
        written.encode(),
        f"CAT_CHAIN_KEY, id {chain.key_id(written.encode())}",
    )
    monkeypatch.setenv("CAT_CHAIN_KEY", "too short")
    with pytest.raises(chain.ChainKeyError, match="shorter than 32 bytes"):
        resolved()
    monkeypatch.delenv("CAT_CHAIN_KEY")
    assert resolved(TESTING=True)[0] == chain.TEST_KEY


# --- signed chain heads in score exports ---------------------------------------------


def doc_snippet() -> str:
    """The check program of docs/formats.md, as printed there."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "formats.md").read_text()
    after = text.split("python3 check_export.py chain_key scores.csv", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def run_snippet(tmp_path, key: bytes, export: Path) -> dict[str, str]:
    program = tmp_path / "check_export.py"
    program.write_text(doc_snippet())
    (tmp_path / "chain_key").write_bytes(key + b"\n")
    out = subprocess.run(
        [sys.executable, str(program), str(tmp_path / "chain_key"), str(export)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_score_exports_carry_signed_heads_that_the_documented_program_checks(
    app, mixed_sitting, runner, tmp_path
):
    assert len(doc_snippet().strip().splitlines()) <= 10
    sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")
    sit_mixed_exam(app, mixed_sitting, "R2", "pc-2")
    with app.app_context():
        key = chain.chain_key()
        change_the_head(2)  # R2's chain broken before the export: nothing to vouch for
        db.session.commit()
    export = tmp_path / "scores.csv"
    assert runner.invoke(args=["export-scores", "--sitting", "1", "-o", str(export)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8-sig"))))
    assert [(r["attempt_id"], r["chain_n"]) for r in rows] == [("1", "11"), ("2", "11")]
    with app.app_context():
        assert rows[0]["chain_hash"] == db.session.get(Attempt, 1).chain_head
    assert rows[0]["chain_signature"] == chain.head_signature(
        key, 1, "R1", 1, int(rows[0]["exam_id"]), 11, rows[0]["chain_hash"]
    )  # whose attempt it is, too
    assert rows[1]["chain_signature"] == ""

    assert run_snippet(tmp_path, key, export) == {"R1": "signed", "R2": "NOT SIGNED BY THIS KEY"}
    assert (
        run_snippet(tmp_path, b"another centre's key, 32 bytes or more", export)["R1"] != "signed"
    )
    forged = export.read_text(encoding="utf-8-sig").replace(",1,11,", ",1,12,")  # chain_n
    assert forged != export.read_text(encoding="utf-8-sig")
    (tmp_path / "forged.csv").write_text(forged, encoding="utf-8-sig")
    assert run_snippet(tmp_path, key, tmp_path / "forged.csv")["R1"] != "signed"
    moved = export.read_text(encoding="utf-8-sig").replace("\nR1,", "\nR9,")  # whose
    assert moved != export.read_text(encoding="utf-8-sig")
    (tmp_path / "moved.csv").write_text(moved, encoding="utf-8-sig")
    assert run_snippet(tmp_path, key, tmp_path / "moved.csv")["R9"] != "signed"

    xlsx = tmp_path / "scores.xlsx"
    assert (
        runner.invoke(
            args=["export-scores", "--sitting", "1", "--format", "xlsx", "-o", str(xlsx)]
        ).exit_code
        == 0
    )
    values = list(openpyxl.load_workbook(xlsx)["scores"].iter_rows(values_only=True))
    first = dict(zip(values[0], values[1], strict=True))
    assert (first["attempt_id"], first["chain_n"]) == (1, 11)
    assert first["chain_signature"] == rows[0]["chain_signature"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_verify_against_an_export_finds_a_chain_cut_short_since(
    app, mixed_sitting, runner, tmp_path, fmt
):
    """The one rewrite a keyed chain cannot show alone: the last rows deleted, head set back."""
    sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")
    sit_mixed_exam(app, mixed_sitting, "R2", "pc-2")
    export = tmp_path / f"scores.{fmt}"
    runner.invoke(args=["export-scores", "--sitting", "1", "--format", fmt, "-o", str(export)])
    result = runner.invoke(args=["verify", "--export", str(export)])
    assert result.exit_code == 0, result.output
    assert "OK: 2 export rows signed by this key; their chains, scores" in result.stdout

    with app.app_context():  # R1's last answer gone, the head and the count set back
        last = row_at(1, 11)
        db.session.delete(last)
        attempt = db.session.get(Attempt, 1)
        attempt.chain_head, attempt.n_responses = row_at(1, 10).hash, 10
        db.session.commit()
    # its score no longer adds up (verify recomputes it from the chain) ...
    assert "total_score is" in runner.invoke(args=["verify"]).stderr
    with app.app_context():  # ... so the scores are set back too: its TKP answer is gone
        attempt = db.session.get(Attempt, 1)
        attempt.total_score -= last.score
        attempt.section_scores = {**attempt.section_scores, "TKP": 2}
        db.session.commit()
    assert runner.invoke(args=["verify"]).exit_code == 0  # a shorter chain is a valid chain
    result = runner.invoke(args=["verify", "--export", str(export)])
    assert result.exit_code == 1
    assert f"scores.{fmt} row 2 (registration R1): attempt 1 had 11 responses" in result.stderr
    assert "now 10 ending in" in result.stderr and "R2" not in result.stderr


def test_verify_against_an_export_finds_a_score_changed_in_the_file_or_the_database(
    app, mixed_sitting, runner, tmp_path
):
    """The outsider's second check (F2): a total raised in the export, or in the database since,
    passed `verify --export`, which said the rows matched the database."""
    sit_mixed_exam(app, mixed_sitting, "R1", "pc-1")
    export = tmp_path / "scores.csv"
    runner.invoke(args=["export-scores", "--sitting", "1", "-o", str(export)])
    assert runner.invoke(args=["verify", "--export", str(export)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8-sig"))))
    true_total = rows[0]["total"]
    rows[0]["total"], rows[0]["passed"] = "500", "yes"
    forged = tmp_path / "forged.csv"
    with forged.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(args=["verify", "--export", str(forged)])
    assert result.exit_code == 1
    assert f"total is '500' in the file but '{true_total}' in the database" in result.stderr

    with app.app_context():  # the database raised instead, the export kept
        attempt = db.session.get(Attempt, 1)
        attempt.total_score += 100
        db.session.commit()
    result = runner.invoke(args=["verify", "--export", str(export)])
    assert result.exit_code == 1 and f"total is '{true_total}' in the file" in result.stderr


# --- whose attempt: the chain names its candidate -------------------------------------


def move_attempt(attempt_id: int, candidate_id: int) -> None:
    """What someone with database access does: give an attempt to another candidate."""
    db.session.execute(
        db.update(Attempt).where(Attempt.id == attempt_id).values(candidate_id=candidate_id)
    )


def test_an_attempt_moved_to_another_candidate_is_tampered(app, runner, tmp_path):
    """Issue 16, second attack: ``attempts.candidate_id`` changed, and verify said intact."""
    with app.app_context():
        sitting_id = build_sitting(SECTIONS, TWK + TIU + TKP, n_candidates=3)
    sit_mixed_exam(app, sitting_id, "R1", "pc-1")  # R1 does well, R2 less so, R3 never sits
    sit_mixed_exam(app, sitting_id, "R2", "pc-2")
    export = tmp_path / "scores.csv"
    runner.invoke(args=["export-scores", "--sitting", str(sitting_id), "-o", str(export)])
    assert runner.invoke(args=["verify", "--export", str(export)]).exit_code == 0

    with app.app_context():  # R1's answers now R3's
        move_attempt(1, 3)
        db.session.commit()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1 and "TAMPERED" in result.stderr
    assert "attempt 1 (registration R3, sitting 'Sesi'), response seq 3 (row id 1): " in (
        result.stderr
    )
    assert "not this candidate's chain" in result.stderr and "R2" not in result.stderr
    result = runner.invoke(args=["verify", "--export", str(export)])
    assert result.exit_code == 1
    assert "row 2 (registration R1): attempt 1's chain no longer verifies" in result.stderr

    with app.app_context():  # R1 and R2 swap attempts (R1's is R3's at this point)
        move_attempt(2, 1)
        move_attempt(1, 2)
        db.session.commit()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    named = [line for line in result.stderr.splitlines() if "not this candidate's chain" in line]
    assert [line.split(",")[0] for line in named] == [
        "attempt 1 (registration R2",
        "attempt 2 (registration R1",
    ]
    with app.app_context():  # put back: intact again
        move_attempt(1, 3)
        move_attempt(2, 2)
        move_attempt(1, 1)
        db.session.commit()
    assert runner.invoke(args=["verify"]).exit_code == 0


def test_a_waiting_attempt_moved_before_any_answer_is_tampered(app, runner):
    with app.app_context():
        sitting_id = build_sitting(SECTIONS, TWK + TIU + TKP, n_candidates=2)
    connect(app, sitting_id, "R1", "pc-1")  # logged in, nothing answered
    assert runner.invoke(args=["verify"]).exit_code == 0
    with app.app_context():
        move_attempt(1, 2)
        db.session.commit()
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert result.stderr.startswith("attempt 1 (registration R2, sitting 'Sesi'): not this")


def test_chains_from_before_the_binding_verify_only_up_to_the_configured_id(app, runner):
    """An upgraded centre: keyed chains that started at 64 zeros, named by nobody."""
    with app.app_context():
        sitting_id = build_sitting(SECTIONS, TWK + TIU + TKP, n_candidates=3)
    for i in (1, 2, 3):
        sit_mixed_exam(app, sitting_id, f"R{i}", f"pc-{i}")
    with app.app_context():
        for attempt_id in (1, 2):  # what the version before wrote: keyed, from 64 zeros
            db.session.get(Attempt, attempt_id).chain_head = chain.GENESIS
            row_at(attempt_id, 1).prev_hash = chain.GENESIS
            db.session.flush()
            rewrite_chain(attempt_id, chain.chain_key())
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert "raise CAT_CHAIN_UNBOUND_UNTIL to its id" in result.stderr
    assert {line.split(" ")[1] for line in result.stderr.splitlines()[:-1]} == {"1", "2"}
    app.config["CHAIN_UNBOUND_UNTIL"] = 2
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 0, result.output
    assert "Attempts up to id 2 may carry a chain that does not name its candidate." in (
        result.stdout
    )
    with app.app_context():  # a later attempt set back to 64 zeros: not let through
        db.session.get(Attempt, 3).chain_head = chain.GENESIS
        row_at(3, 1).prev_hash = chain.GENESIS
        db.session.flush()
        rewrite_chain(3, chain.chain_key())
    result = runner.invoke(args=["verify"])
    assert result.exit_code == 1
    assert result.stderr.startswith("attempt 3 (registration R3")
