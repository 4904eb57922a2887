"""The signed result bundle: one ended sitting's scores, responses and audit, signed by the centre.

Format ``cat-server-results`` version 1 (docs/results.md): a JSON file
``{"format", "version", "body", "signature"}``. The signature is Ed25519, by the
centre's key (sealed/keys.py), over ``DOMAIN`` followed by the body's canonical
serialisation (:func:`canonical`: keys sorted, no whitespace, UTF-8; the body
holds no floats, so any language writes the same bytes). Verifying needs the
file and the centre's public key, nothing else: no database, no network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app

from ..exam.chain import GENESIS, chain_hash, chain_key, genesis_of
from ..extensions import db, socketio
from ..localtime import iso_local, zone_label
from ..models import (
    Attempt,
    AuditEvent,
    Candidate,
    ExamSection,
    Incident,
    Item,
    Presentation,
    Response,
    Sitting,
    utcnow,
)
from ..sealed import keys

FORMAT = "cat-server-results"
VERSION = 1
DOMAIN = b"cat-server result bundle v1\n"
_PUBLIC_CHAIN = "cat-server bundle chain v1"


class BundleProblem(Exception):
    """A bundle cannot be made, read or trusted; the message says why."""


def canonical(body: dict) -> bytes:
    """The bytes the signature covers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def body_sha256(body: dict) -> str:
    """The bundle's identity at the national office: SHA-256 of its canonical body."""
    return hashlib.sha256(canonical(body)).hexdigest()


def when(dt: datetime | None) -> dict | None:
    """A time as both UTC ISO and the centre's local ISO with its offset."""
    if dt is None:
        return None
    utc = dt.astimezone(UTC).replace(microsecond=0)
    return {"utc": utc.isoformat().replace("+00:00", "Z"), "local": iso_local(dt)}


def _decimal(x) -> str | None:
    return None if x is None else f"{float(x):.6f}"


def centre_id() -> str:
    """``CAT_CENTRE_ID`` (e.g. ``UPT-BKN-JAKARTA``): who the bundle says made it."""
    return str(current_app.config.get("CENTRE_ID") or "centre")


# --- building --------------------------------------------------------------------


def build(sitting_id: int) -> bytes:
    """The signed bundle file of an ended sitting; BundleProblem if it is not over or unsigned."""
    sitting = db.session.get(Sitting, sitting_id)
    if sitting is None:
        raise BundleProblem(f"there is no sitting {sitting_id}")
    if sitting.status != "ended":
        raise BundleProblem(
            f"sitting {sitting_id} ({sitting.name}) is not over (status {sitting.status}): "
            "end it in the proctor console first"
        )
    try:
        private = keys.centre_private_key()
    except keys.KeyProblem as problem:
        raise BundleProblem(str(problem)) from None
    body = _body(sitting, keys.fingerprint(private.public_key()))
    signature = private.sign(DOMAIN + canonical(body))
    return encode(body, signature, keys.public_pem(private.public_key()).decode())


def encode(body: dict, signature: bytes, public_pem: str) -> bytes:
    document = {
        "format": FORMAT,
        "version": VERSION,
        "body": body,
        "signature": {
            "alg": "ed25519",
            "key_fingerprint": body["centre"]["key_fingerprint"],
            "public_key": public_pem,
            "value": base64.b64encode(signature).decode(),
        },
    }
    # one field a line, unindented: a person finds and reads any score in an editor, and
    # without ``indent`` json uses its C encoder (a 300-seat room's 12 MiB in a fraction
    # of a second instead of seconds)
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",\n", ": "))
    return (text + "\n").encode()


def _body(sitting: Sitting, fingerprint: str) -> dict:
    exam = sitting.exam
    sections = list(exam.sections)
    attempts = (
        db.session.execute(
            db.select(Attempt)
            .join(Candidate, Attempt.candidate_id == Candidate.id)
            .where(Attempt.sitting_id == sitting.id)
            .order_by(Candidate.registration_no)
        )
        .scalars()
        .all()
    )
    responses = _responses([a.id for a in attempts])
    return {
        "centre": {
            "id": centre_id(),
            "key_fingerprint": fingerprint,
            "zone": current_app.config["TIMEZONE"],
            "zone_label": zone_label(sitting.started_at),
        },
        "made_at": when(utcnow()),
        "package_id": getattr(sitting, "package_id", None),
        "sitting": {
            "id": sitting.id,
            "name": sitting.name,
            "room": sitting.room,
            "scheduled_at": when(sitting.scheduled_at),
            "started_at": when(sitting.started_at),
            "ended_at": when(sitting.ended_at),
            "exam": {
                "id": exam.id,
                "name": exam.name,
                "pass_total": exam.pass_total,
                "sections": [
                    {
                        "code": s.code,
                        "name": s.name,
                        "mode": s.mode,
                        "pass_mark": s.pass_mark,
                        "points_correct": s.points_correct,
                        "n_items": s.n_items,
                    }
                    for s in sections
                ],
            },
        },
        "attempts": _attempts(attempts, sections, responses),
        "audit": _audit_summary(sitting.id),
    }


def _responses(attempt_ids: list[int]) -> dict[int, list[dict]]:
    """Each attempt's responses in chain order, with the section and item code they belong to."""
    if not attempt_ids:
        return {}
    rows = db.session.execute(
        db.select(
            Response.attempt_id,
            Response.n,
            Response.seq,
            Response.item_id,
            Item.code,
            ExamSection.code,
            Response.choice,
            Response.score,
            Response.answered_at,
            Response.prev_hash,
            Response.hash,
        )
        .join(Item, Item.id == Response.item_id)
        .join(
            Presentation,
            (Presentation.attempt_id == Response.attempt_id) & (Presentation.seq == Response.seq),
        )
        .join(ExamSection, ExamSection.id == Presentation.section_id)
        .where(Response.attempt_id.in_(attempt_ids))
        .order_by(Response.attempt_id, Response.n)
    ).all()
    found: dict[int, list[dict]] = {}
    for attempt_id, n, seq, item_id, code, section, choice, score, at, prev, digest in rows:
        found.setdefault(attempt_id, []).append(
            {
                "n": n,
                "seq": seq,
                "item_id": item_id,
                "item": code,
                "section": section,
                "choice": choice,
                "score": score,
                "answered_at": at.isoformat(),  # as the chain's link text has it
                "prev_hash": prev,
                "hash": digest,
            }
        )
    return found


def _attempts(attempts: list[Attempt], sections, responses: dict) -> list[dict]:
    found = []
    for attempt in attempts:
        # a room's bundle takes seconds: the exam sockets of other sittings get in between
        socketio.sleep(0)
        found.append(_attempt(attempt, sections, responses.get(attempt.id, [])))
    return found


def _attempt(attempt: Attempt, sections: list[ExamSection], responses: list[dict]) -> dict:
    scores = attempt.section_scores or {}
    candidate = attempt.candidate
    return {
        "attempt_id": attempt.id,
        "registration_no": candidate.registration_no,
        "name": candidate.name,
        "seat": candidate.seat.label if candidate.seat else None,
        "status": attempt.status,
        "finish_reason": attempt.finish_reason,
        "started_at": when(attempt.started_at),
        "finished_at": when(attempt.finished_at),
        "items_answered": attempt.n_answered,
        "items_total": attempt.n_items,
        "scores": {
            "sections": [
                {
                    "code": s.code,
                    "score": scores.get(s.code, 0),
                    "pass_mark": s.pass_mark,
                    "passed": None if s.pass_mark is None else scores.get(s.code, 0) >= s.pass_mark,
                }
                for s in sections
            ],
            "total": attempt.total_score,
            "passed": attempt.passed,
            "theta": _decimal(attempt.theta),
            "se": _decimal(attempt.se),
        },
        "chain": {
            "start": responses[0]["prev_hash"] if responses else (attempt.chain_head or GENESIS),
            "head": attempt.chain_head or GENESIS,
            "n": attempt.n_responses,
            "verified_at_centre": _verified_at_centre(attempt, responses),
            "public_head": public_head(attempt.id, responses),
        },
        "responses": responses,
    }


def _verified_at_centre(attempt: Attempt, responses: list[dict]) -> bool:
    """Every link's HMAC recomputes under the centre's chain key, from the attempt's genesis.

    As ``cat-server verify`` (admin/scores.py): attempts up to ``CHAIN_UNKEYED_UNTIL``
    may carry plain SHA-256 links, up to ``CHAIN_UNBOUND_UNTIL`` start at 64 zeros.
    """
    config = current_app.config
    unkeyed = attempt.id <= int(config.get("CHAIN_UNKEYED_UNTIL") or 0)
    unbound = unkeyed or attempt.id <= int(config.get("CHAIN_UNBOUND_UNTIL") or 0)
    first = responses[0]["prev_hash"] if responses else (attempt.chain_head or GENESIS)
    key, prev = chain_key(), GENESIS if unbound and first == GENESIS else genesis_of(attempt)
    for r in responses:
        at = datetime.fromisoformat(r["answered_at"])
        fields = (prev, attempt.id, r["seq"], r["item_id"], r["choice"], r["score"], at)
        keyed = chain_hash(*fields, key=key)
        plain = chain_hash(*fields, key=None) if unkeyed else None
        if r["prev_hash"] != prev or not (
            hmac.compare_digest(keyed, r["hash"]) or (plain is not None and plain == r["hash"])
        ):
            return False
        prev = r["hash"]
    return prev == (attempt.chain_head or GENESIS) and len(responses) == attempt.n_responses


def public_head(attempt_id: int, responses: list[dict]) -> str:
    """A SHA-256 chain over the carried response fields: anyone recomputes it without a key."""
    digest = hashlib.sha256(f"{_PUBLIC_CHAIN}\n{attempt_id}".encode()).hexdigest()
    for r in responses:
        text = json.dumps(
            [digest, r["n"], r["seq"], r["item_id"], r["section"], r["choice"], r["score"]]
            + [r["answered_at"], r["prev_hash"], r["hash"]],
            separators=(",", ":"),
        )
        digest = hashlib.sha256(text.encode()).hexdigest()
    return digest


def _audit_summary(sitting_id: int) -> dict:
    rows = db.session.execute(
        db.select(AuditEvent.action, AuditEvent.at).where(AuditEvent.sitting_id == sitting_id)
    ).all()
    incidents = db.session.execute(
        db.select(Incident.category).where(Incident.sitting_id == sitting_id)
    ).scalars()
    times = sorted(at for _, at in rows)
    return {
        "n_events": len(rows),
        "by_action": dict(sorted(Counter(action for action, _ in rows).items())),
        "incidents": dict(sorted(Counter(incidents).items())),
        "first_at": when(times[0]) if times else None,
        "last_at": when(times[-1]) if times else None,
    }


# --- reading and verifying ---------------------------------------------------------


@dataclass
class Checked:
    """A read bundle: its body, the signer's key, and every problem found (none: it verifies)."""

    body: dict
    public_key: object
    fingerprint: str
    sha256: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


SIGNATURE_FIELDS = {"alg", "key_fingerprint", "public_key", "value"}


class DuplicateKey(ValueError):
    """A JSON object names one field twice."""


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def parse(data: bytes, where: str) -> dict:
    """The bundle document; BundleProblem naming what is wrong with its shape."""
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise BundleProblem(f"{where} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise BundleProblem(
            f"{where}: not JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except DuplicateKey as twice:
        # a person (or another parser) would read the first value, json the last: refused
        raise BundleProblem(
            f"{where}: the field {twice.args[0]!r} appears twice in one object"
        ) from None
    except RecursionError:
        raise BundleProblem(f"{where}: nested deeper than any bundle is") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BundleProblem(f"{where} is not a {FORMAT} file")
    # only the body is signed: nothing unsigned may ride beside it
    if extra := sorted(set(document) - {"format", "version", "body", "signature"}):
        raise BundleProblem(f"{where}: unsigned fields beside the body: {', '.join(extra)}")
    if isinstance(document.get("signature"), dict) and (
        extra := sorted(set(document["signature"]) - SIGNATURE_FIELDS)
    ):
        raise BundleProblem(f"{where}: unknown fields in the signature: {', '.join(extra)}")
    if document.get("version") != VERSION:
        raise BundleProblem(
            f"{where} is {FORMAT} version {document.get('version')!r}; this server reads {VERSION}"
        )
    body, signature = document.get("body"), document.get("signature")
    if not isinstance(body, dict) or not isinstance(signature, dict):
        raise BundleProblem(f"{where} has no body or no signature")
    for name in ("centre", "sitting", "attempts", "audit"):
        if name not in body:
            raise BundleProblem(f"{where}: the body has no {name!r}")
    return document


def verify(data: bytes, where: str, trusted=None) -> Checked:
    """Check a bundle offline: signature, each attempt's chain, scores against responses.

    ``trusted``: a public key the signer must be (``--centre-key``, or the key
    the national office trusts for that centre); None: the key the file carries.
    """
    document = parse(data, where)
    body, signature = document["body"], document["signature"]
    try:
        carried = keys.load_public_key(str(signature.get("public_key", "")).encode(), "its key")
    except keys.KeyProblem as problem:
        raise BundleProblem(f"{where}: {problem}") from None
    key = trusted or carried
    checked = Checked(body, key, keys.fingerprint(key), body_sha256(body))
    if trusted is not None and keys.raw_public(carried) != keys.raw_public(trusted):
        checked.problems.append(
            f"signed by {keys.fingerprint(carried)}, not by the trusted centre key "
            f"{checked.fingerprint}"
        )
    if body["centre"].get("key_fingerprint") != keys.fingerprint(carried):
        checked.problems.append("the body's key fingerprint is not the signing key's")
    try:
        value = base64.b64decode(signature.get("value", ""), validate=True)
    except (ValueError, TypeError):
        value = b""
    if not keys.verify(key, value, DOMAIN + canonical(body)):
        checked.problems.append(
            "the signature does not match the content: the file was changed after it was signed"
        )
    for attempt in body["attempts"]:
        checked.problems.extend(attempt_problems(attempt, body["sitting"]["exam"]))
    return checked


def attempt_problems(attempt: dict, exam: dict) -> list[str]:
    """What in one attempt does not hold together: its chain, or its scores and responses."""
    who = f"attempt {attempt.get('attempt_id')} (registration {attempt.get('registration_no')})"
    try:
        return [f"{who}: {p}" for p in _chain_problems(attempt) + _score_problems(attempt, exam)]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return [f"{who}: malformed ({error!r})"]


def _chain_problems(attempt: dict) -> list[str]:
    chain, responses = attempt["chain"], attempt["responses"]
    found = []
    prev = chain["start"]
    for expected_n, r in enumerate(responses, start=1):
        if r["n"] != expected_n:
            found.append(f"response n {r['n']} where n {expected_n} belongs: rows missing or moved")
            break
        if r["prev_hash"] != prev:
            found.append(f"response n {r['n']} (seq {r['seq']}) does not link to the one before")
            break
        prev = r["hash"]
    else:
        if prev != chain["head"]:
            found.append(f"the chain ends at {prev[:12]}…, not at its head {chain['head'][:12]}…")
        if len(responses) != chain["n"]:
            found.append(f"{len(responses)} responses carried, the chain counts {chain['n']}")
    if public_head(attempt["attempt_id"], responses) != chain["public_head"]:
        found.append("its responses do not recompute to the chain's public head")
    if not chain.get("verified_at_centre"):
        found.append("its chain did not verify at the centre (cat-server verify there)")
    return found


def _score_problems(attempt: dict, exam: dict) -> list[str]:
    found = []
    latest: dict[int, dict] = {}
    for r in attempt["responses"]:  # a changed answer is a later row for the same seq
        latest[r["seq"]] = r
    sums = Counter()
    for r in latest.values():
        sums[r["section"]] += r["score"]
    modes = {s["code"]: s for s in exam["sections"]}
    scores = attempt["scores"]
    total = 0
    passed = True
    for s in scores["sections"]:
        code, score = s["code"], s["score"]
        total += score
        if modes.get(code, {}).get("mode") != "adaptive" and score != sums.get(code, 0):
            found.append(
                f"section {code} score {score}, but its responses give {sums.get(code, 0)}"
            )
        if modes.get(code, {}).get("mode") == "adaptive" and not 0 <= score <= 100:
            found.append(f"section {code} scaled score {score} is outside 0..100")
        if s["pass_mark"] is not None:
            if s["passed"] != (score >= s["pass_mark"]):
                found.append(f"section {code} passed={s['passed']} with {score} / {s['pass_mark']}")
            passed = passed and score >= s["pass_mark"]
    if scores["total"] != total:
        found.append(f"total {scores['total']}, but its sections add up to {total}")
    if exam.get("pass_total") is not None:
        passed = passed and scores["total"] >= exam["pass_total"]
    if (
        attempt["status"] == "finished"
        and scores["passed"] is not None
        and scores["passed"] != passed
    ):
        found.append(f"passed={scores['passed']}, but its scores and pass marks give {passed}")
    return found
