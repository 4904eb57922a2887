"""The response chain's check (``cat-server verify``, the dashboard's verify page): every
attempt's rows recomputed, each departure a ChainProblem worded in the page's language
(English in the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ..exam.chain import GENESIS, chain_hash, chain_key, genesis, key_source
from ..exam.scoring import rescore_all
from ..extensions import db, socketio
from ..itembank.formats.problems import Message, _
from ..localtime import SECONDS, format_local
from ..models import Attempt, Candidate, Response, Sitting


@dataclass(frozen=True)
class ChainProblem:
    """One departure of an attempt's chain; ``message`` a Message, worded when shown."""

    attempt_id: int
    registration_no: str
    sitting: str
    seq: int | None
    response_id: int | None
    message: Message

    def text(self, translate=None) -> str:
        """Where and what, through ``translate`` (a gettext: msgid -> text); English without."""
        where = _(
            "ujian peserta %(attempt)s (nomor peserta %(registration)s, sesi %(sitting)s)",
            attempt=self.attempt_id,
            registration=self.registration_no,
            sitting=repr(self.sitting),
        ).render(translate)
        if self.seq is not None:
            where += _(
                ", jawaban soal ke-%(seq)s (id baris %(row)s)", seq=self.seq, row=self.response_id
            ).render(translate)
        return f"{where}: {self.message.render(translate)}"

    def __str__(self):
        return self.text()


# one attempt's rows in chain order, as plain tuples (an ORM object each cost more CPU)
_CHAIN_ROWS = (
    db.select(
        Response.id,
        Response.n,
        Response.seq,
        Response.item_id,
        Response.choice,
        Response.score,
        Response.answered_at,
        Response.prev_hash,
        Response.hash,
    )
    .where(Response.attempt_id == db.bindparam("attempt"))
    .order_by(Response.n)
)


def verify_chains(attempt_ids: list[int] | None = None) -> tuple[int, int, list[ChainProblem]]:
    """Recompute every attempt's hash chain; return (attempts, responses, problems).

    The chain is checked in the order it was written, ``Response.n`` = 1, 2, ...
    (not seq order: a navigable section is answered in any order, and a changed
    answer is a new row for the same seq). Each row's ``prev_hash`` must be the
    hash of the row before it (64 zeros for the first), each row's fields must
    give its stored hash, ``n`` must run 1..N without a gap, N must be the
    attempt's ``n_responses``, and the attempt's ``chain_head`` the last hash.
    Every departure is a problem naming what it shows: an altered row, a
    deleted row, reordered rows, a changed chain head.

    The first row's ``prev_hash`` (with no rows, the head) must be the attempt's
    genesis (``exam.chain.genesis``) for the registration number, sitting and
    exam it now belongs to: an attempt moved to another candidate is a problem.
    64 zeros instead (a chain from before the binding) pass only up to
    ``CHAIN_UNBOUND_UNTIL`` (or ``CHAIN_UNKEYED_UNTIL``).

    Hashes are HMACs under the chain key (exam/chain.py). A row whose hash is
    the plain, unkeyed SHA-256 of its fields passes only in an attempt up to
    ``CHAIN_UNKEYED_UNTIL`` (written before the key existed) and before any
    keyed row; anywhere else it is what someone who can write the database but
    lacks the key would make, and a problem.
    """
    query = (
        db.select(
            Attempt.id,
            Attempt.chain_head,
            Attempt.n_responses,
            Candidate.registration_no,
            Sitting.name,
            Attempt.sitting_id,
            Sitting.exam_id,
        )
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .join(Sitting, Attempt.sitting_id == Sitting.id)
        .order_by(Attempt.id)
    )
    if attempt_ids is not None:
        query = query.where(Attempt.id.in_(attempt_ids))
    key, unkeyed_until, unbound_until = chain_key(), *legacy_until()
    problems: list[ChainProblem] = []
    n_attempts = n_responses = 0
    for attempt_id, head, counted, reg, sitting, sitting_id, exam_id in db.session.execute(
        query
    ).all():
        n_attempts += 1
        socketio.sleep(0)  # a long check lets the exam's sockets in between attempts
        rows = db.session.execute(_CHAIN_ROWS, {"attempt": attempt_id}).all()
        n_responses += len(rows)
        unkeyed = attempt_id <= unkeyed_until
        start = genesis(key, attempt_id, reg, sitting_id, exam_id)
        first = rows[0].prev_hash if rows else (head or GENESIS)
        if first == GENESIS and attempt_id <= unbound_until:
            start = GENESIS  # a chain from before the binding
        found = _chain_problems(attempt_id, head or GENESIS, counted, rows, key, unkeyed, start)
        for r, message in found:
            seq, row_id = (r.seq, r.id) if r is not None else (None, None)
            problems.append(ChainProblem(attempt_id, reg, sitting, seq, row_id, message))
    return n_attempts, n_responses, problems


def legacy_until() -> tuple[int, int]:
    """The highest attempt ids whose chains may be unkeyed, and unbound (docs/admin.md)."""
    unkeyed = int(current_app.config.get("CHAIN_UNKEYED_UNTIL") or 0)
    return unkeyed, max(unkeyed, int(current_app.config.get("CHAIN_UNBOUND_UNTIL") or 0))


def verify_scores(attempt_ids: list[int] | None = None):
    """Recompute finished attempts' scores (exam/scoring.py): (attempts, problems, taken as stored).

    Each stored section score, total, pass/fail and theta that differs from
    the recomputation from the attempt's chained responses is a problem.
    """
    until = int(current_app.config.get("SCORES_UNKEPT_UNTIL") or 0)
    n, found, unchecked = rescore_all(attempt_ids, until)
    wrong = [ChainProblem(a, reg, s, None, None, score_message(says)) for a, reg, s, says in found]

    return n, wrong, unchecked


def score_message(problem) -> Message:
    """A recomputation's difference (exam/scoring.py ScoreProblem), worded in the page's language."""
    kind, values = problem.kind, problem.values
    if kind == "no_basis":
        return _(
            "bagian %(code)s: parameter soal untuk nilai adaptifnya tidak tersimpan: dasar "
            "nilai ujian ini dihapus (atau ujian ini dibuat sebelum parameter disimpan: naikkan "
            "CAT_SCORES_UNKEPT_UNTIL sampai id-nya, docs/admin.md)",
            **values,
        )
    if kind == "unsigned":
        return _(
            "bagian %(code)s: parameter soal yang tersimpan untuk nilai adaptifnya tidak "
            "bertanda tangan kunci rantai: parameter itu diubah",
            **values,
        )
    if kind == "other_items":
        return _(
            "bagian %(code)s: nilai adaptifnya diperkirakan dari soal %(kept)s, tetapi jawaban "
            "berantainya yang bukan pretest adalah soal %(operational)s: tanda pretest atau "
            "bagian sebuah penyajian diubah",
            **values,
        )
    if kind == "section":
        return _(
            "section_scores[%(code)s] bernilai %(stored)s di basis data, tetapi %(recomputed)s "
            "bila dihitung ulang dari jawaban berantainya",
            **values,
        )
    if kind == "total":
        return _(
            "total_score bernilai %(stored)s di basis data, tetapi %(recomputed)s bila dihitung "
            "ulang dari jawaban berantainya",
            **values,
        )
    if kind == "passed":
        return _(
            "passed bernilai %(stored)s di basis data, tetapi %(recomputed)s bila dihitung ulang "
            "dari jawaban berantainya dan nilai ambang batas ujian",
            **values,
        )
    return _(
        "theta bernilai %(stored)s di basis data, tetapi %(recomputed)s bila dihitung ulang dari "
        "jawaban berantainya dan parameter soal yang tersimpan bersamanya",
        **values,
    )


def verify_report() -> dict:
    """What the dashboard's verify page shows: the counts, the problems, which key, old attempts."""
    n_attempts, n_responses, problems = verify_chains()
    n_scored, wrong, unchecked = verify_scores()
    return {
        "n_attempts": n_attempts,
        "n_responses": n_responses,
        "n_scored": n_scored,
        "n_unchecked": len(unchecked),
        "problems": sorted(problems + wrong, key=lambda p: p.attempt_id),
        "key": key_source(),
        "unkeyed_until": current_app.config.get("CHAIN_UNKEYED_UNTIL") or 0,
    }


def _chain_problems(
    attempt_id: int,
    head: str,
    counted: int,
    rows: list[Response],
    key: bytes,
    unkeyed: bool,
    start: str,
):
    """(row or None, Message) for each departure of one attempt's rows (in ``n`` order).

    ``unkeyed``: rows with the plain SHA-256 may open this attempt's chain;
    ``start``: the first row's ``prev_hash`` (the attempt's genesis).
    """
    found = []
    plain = []  # rows with the plain SHA-256 where only keyed ones may be
    first = rows[0].prev_hash if rows else head
    if first != start and first not in {r.hash for r in rows}:
        legacy = first == GENESIS and start != GENESIS
        found.append(
            (
                rows[0] if rows else None,
                _(
                    "bukan rantai peserta ini: rantainya tidak berawal dari genesis ujian "
                    "peserta, nomor peserta, sesi dan ujian ini: ujian peserta dipindah ke "
                    "peserta lain, nomor peserta, sesi atau ujiannya diubah, atau baris "
                    "pertamanya dihapus%(or_older)s",
                    or_older=_(
                        "; atau rantainya dimulai sebelum rantai menyebut pesertanya (naikkan "
                        "CAT_CHAIN_UNBOUND_UNTIL sampai id-nya, docs/admin.md)"
                    )
                    if legacy
                    else "",
                ),
            )
        )
        start = first  # the rest is checked as a chain of its own
    position = {start: 0} | {r.hash: r.n for r in rows}  # where each hash is now
    prev, expected_n = start, 1
    for r in rows:
        if r.n > expected_n:
            if r.n == expected_n + 1:
                gap = _(
                    "n %(n)s rantai, sebelum baris ini, hilang: ada baris yang dihapus",
                    n=expected_n,
                )
            else:
                gap = _(
                    "n %(n)s sampai %(last)s rantai, sebelum baris ini, hilang: ada baris yang "
                    "dihapus",
                    n=expected_n,
                    last=r.n - 1,
                )
            found.append((r, gap))
        elif r.n < expected_n:
            found.append((r, _("n %(n)s muncul dua kali: ada baris yang disisipkan", n=r.n)))
        elif r.prev_hash != prev:
            if position.get(r.prev_hash, r.n) != r.n:
                found.append(
                    (
                        r,
                        _(
                            "urutannya salah: baris ini mengikuti baris yang kini di n %(at)s, "
                            "bukan n %(want)s: urutan baris diubah",
                            at=position[r.prev_hash],
                            want=r.n - 1,
                        ),
                    )
                )
            else:
                found.append(
                    (
                        r,
                        _(
                            "prev_hash-nya bukan hash baris mana pun: baris sebelumnya diubah "
                            "atau dihapus, atau baris ini disisipkan"
                        ),
                    )
                )
        fields = (r.prev_hash, attempt_id, r.seq, r.item_id, r.choice, r.score, r.answered_at)
        if chain_hash(*fields, key=key) == r.hash:
            unkeyed = False  # once keyed, keyed to the end
        elif chain_hash(*fields, key=None) == r.hash:
            if not unkeyed:
                plain.append(r)
        else:
            found.append(
                (
                    r,
                    _(
                        "diubah: isinya (soal %(item)s, pilihan %(choice)s, skor %(score)s, "
                        "dijawab %(at)s) tidak menghasilkan hash yang tersimpan, baik dengan "
                        "kunci rantai maupun tanpa kunci",
                        item=r.item_id,
                        choice=r.choice,
                        score=r.score,
                        at=format_local(r.answered_at, SECONDS),
                    ),
                )
            )
        prev, expected_n = r.hash, r.n + 1
    if plain:
        after = _(" (dan %(n)s baris sesudahnya)", n=len(plain) - 1) if len(plain) > 1 else ""
        found.append(
            (
                plain[0],
                _(
                    "tanpa kunci: baris ini%(after)s membawa SHA-256 biasa dari isinya, yang "
                    "dapat dihitung ulang oleh siapa pun yang dapat menulis basis data, bukan "
                    "HMAC dengan kunci rantai: ditulis ulang, kecuali ujian peserta dibuat "
                    "sebelum kuncinya ada (naikkan CAT_CHAIN_UNKEYED_UNTIL sampai id-nya, "
                    "docs/admin.md)",
                    after=after,
                ),
            )
        )
    if head != prev:
        found.append(
            (
                None,
                _(
                    "kepala rantai ujian peserta bukan hash jawaban terakhirnya: kepalanya "
                    "diubah, atau ada jawaban yang dihapus atau ditambah"
                ),
            )
        )
    if counted != len(rows):
        found.append(
            (
                None,
                _(
                    "ujian peserta mencatat %(counted)s jawaban, tetapi rantainya berisi "
                    "%(n)s: ada jawaban yang dihapus atau ditambah",
                    counted=counted,
                    n=len(rows),
                ),
            )
        )
    return found
