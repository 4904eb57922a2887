"""Hostile Socket.IO payloads: every event of /exam, /proctor and /board, fuzzed.

Hypothesis sends arbitrary JSON-like payloads and near-valid ones (the right
field names with valid, neighbouring or wrongly typed values) to every event
handler the server registers (found at run time, so a new event is fuzzed the
day it is added). For each one:

- the server raises nothing: the acknowledgement is ``{"ok": true, ...}`` or
  ``{"ok": false, "error": CODE, "message": ...}``;
- after a rejection the database is exactly as before (every row of every table).

CAT_FUZZ_EXAMPLES raises the example counts for a longer hunt.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cat_server.extensions import db, socketio
from cat_server.models import Attempt, Candidate, Item, Presentation
from tests.conftest import PIN, login_candidate, login_staff, make_user
from tests.security.exams import build_skd_adaptive

SCALE = float(os.environ.get("CAT_FUZZ_EXAMPLES", "1"))
FIELDS = [
    "attempt",
    "seq",
    "item",
    "choice",
    "marked",
    "section",
    "sitting",
    "candidate",
    "reason",
    "minutes",
    "seat",
    "text",
    "category",
    "enabled",
    "fields",
    "device",
]
# Ids beyond the database's integer range are test_out_of_range_ids_are_rejected's job.
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def json_values(ids):
    """Arbitrary JSON-ish values, weighted toward the ids that exist in the database."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(ids),
        INT32,
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=40),
        st.sampled_from(
            [
                "A",
                "E",
                "F",
                "a",
                "",
                " ",
                "AB",
                "<script>alert(1)</script>",
                "'; DROP TABLE attempt; --",
                "\x00",
                "1",
                "1.0",
                "other",
                "TWK",
            ]
        ),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5),
        ),
        max_leaves=12,
    )


@st.composite
def near_valid(draw, base, ids):
    """``base`` (a payload every event accepts the shape of) with some fields broken or gone."""
    payload = dict(base)
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        if draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = draw(
                st.one_of(
                    st.sampled_from(ids),
                    st.sampled_from(["A", "B", "E", "F"]),
                    st.booleans(),
                    st.text(max_size=30),
                    json_values(ids),
                )
            )
    return payload


def payloads(base, ids):
    return st.one_of(json_values(ids), near_valid(base, ids), near_valid(base, ids))


def snapshot() -> dict:
    """Every row of every table, in primary key order."""
    rows = {}
    for table in db.metadata.sorted_tables:
        query = sa.select(table).order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(r) for r in db.session.execute(query)]
    db.session.rollback()
    return rows


def events_of(namespace: str) -> list[str]:
    handler = socketio.server.namespace_handlers[namespace]
    return sorted(
        name[3:]
        for name in dir(type(handler))
        if name.startswith("on_") and name not in ("on_connect", "on_disconnect")
    )


@pytest.fixture
def world(app):
    """Sitting A (started, our proctor, two candidates in) and sitting B (open, another proctor)."""
    with app.app_context():
        ours, theirs = make_user(), make_user("lain", password="rahasia-456")
        a = build_skd_adaptive(n_candidates=2, status="started", proctor=ours)
        b = build_skd_adaptive(n_candidates=1, status="open", proctor=theirs)
    socks = {}
    for key, sitting, reg in (("cand", a, "S0001"), ("other", a, "S0002"), ("b", b, "S0001")):
        client = app.test_client()
        assert login_candidate(client, sitting["sitting"], reg, PIN).status_code == 302
        socks[key] = socketio.test_client(
            app, namespace="/exam", flask_test_client=client, auth={"device": f"pc-{key}"}
        )
        assert socks[key].is_connected("/exam")
    staff = app.test_client()
    assert login_staff(staff).status_code == 302
    socks["proctor"] = socketio.test_client(app, namespace="/proctor", flask_test_client=staff)
    socks["board"] = socketio.test_client(app, namespace="/board")
    with app.app_context():
        ids = sorted(
            {0, 1, 2, 3, 4, 5, 9, 10, 30, 10**6}
            | set(db.session.scalars(sa.select(Attempt.id)))
            | set(db.session.scalars(sa.select(Candidate.id)))
            | set(db.session.scalars(sa.select(Item.id)))
            | {a["sitting"], b["sitting"]}
        )
    with app.app_context():
        attempt = db.session.scalars(sa.select(Attempt).order_by(Attempt.id)).first()
        first_item = db.session.scalars(
            sa.select(Presentation.item_id).where(
                Presentation.attempt_id == attempt.id, Presentation.seq == 1
            )
        ).one()
        base = {
            "attempt": attempt.id,
            "seq": 1,
            "item": first_item,
            "choice": "B",
            "marked": True,
            "section": 1,
            "sitting": a["sitting"],
            "candidate": attempt.candidate_id,
            "reason": "uji fuzz",
            "minutes": 5,
            "seat": "PC-02",
            "text": "catatan",
            "category": "other",
            "enabled": True,
            "fields": ["name"],
            "device": "pc-x",
        }
    yield socks, ids, base
    for sock in socks.values():
        for namespace in ("/exam", "/proctor", "/board"):
            if sock.is_connected(namespace):
                sock.disconnect(namespace=namespace)


@pytest.mark.parametrize(
    "namespace, sock_key, examples",
    [
        ("/exam", "cand", 80),
        ("/proctor", "proctor", 120),
        ("/board", "board", 25),
    ],
)
def test_fuzzed_events_never_raise_and_a_rejection_changes_nothing(
    app, world, namespace, sock_key, examples
):
    socks, ids, base = world
    sock = socks[sock_key]
    events = events_of(namespace)
    assert events, f"no events on {namespace}"
    seen = {"ok": 0, "rejected": 0, "codes": set()}

    @settings(
        max_examples=int(examples * SCALE),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(event=st.sampled_from(events), payload=payloads(base, ids))
    def fuzz(event, payload):
        with app.app_context():
            before = snapshot()
        ack = sock.emit(event, payload, namespace=namespace, callback=True)
        sock.get_received(namespace)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, payload, ack)
        assert sock.is_connected(namespace)
        if ack["ok"]:
            seen["ok"] += 1
            return
        seen["rejected"] += 1
        seen["codes"].add(ack.get("error"))
        assert isinstance(ack.get("error"), str) and ack.get("message"), ack
        with app.app_context():
            after = snapshot()
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"{event} {payload!r} rejected ({ack['error']}) but changed {changed}"

    fuzz()
    assert seen["rejected"] > examples // 3, seen  # the fuzz reached the checks
    assert "bad_payload" in seen["codes"], seen


def raising_out_of_range(app, socks, base, sock_key, namespace) -> list[str]:
    """(event, field) pairs whose handler raises on an id the database cannot hold."""
    sock = socks[sock_key]
    if namespace == "/exam":  # one stored answer, so seq lookups reach the database
        assert sock.emit(
            "answer",
            {k: base[k] for k in ("attempt", "seq", "item", "choice")},
            namespace="/exam",
            callback=True,
        )["ok"]
    raised = []
    for event in events_of(namespace):
        for field in ("attempt", "seq", "item", "section", "sitting", "candidate", "minutes"):
            with app.app_context():
                before = snapshot()
            try:
                ack = sock.emit(event, {**base, field: 2**63}, namespace=namespace, callback=True)
            except Exception as error:  # noqa: BLE001  (what the test looks for)
                raised.append(f"{event}.{field}: {type(error).__name__}")
                continue
            assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, ack)
            if not ack["ok"]:
                with app.app_context():
                    assert snapshot() == before, (event, field, ack)
    return raised


@pytest.mark.parametrize(
    "namespace, sock_key",
    [
        pytest.param("/exam", "cand"),
        pytest.param("/proctor", "proctor"),
        pytest.param("/board", "board"),
    ],
)
def test_out_of_range_ids_are_rejected_not_raised(app, world, namespace, sock_key):
    socks, _, base = world
    raised = raising_out_of_range(app, socks, base, sock_key, namespace)
    assert not raised, "; ".join(raised)


@pytest.mark.parametrize(
    "namespace, sock_key", [("/exam", "cand"), ("/proctor", "proctor"), ("/board", "board")]
)
@pytest.mark.parametrize("args", [(), ({}, {}), ({}, 1, "x"), (None,)], ids=repr)
def test_every_event_acks_with_no_payload_or_extra_arguments(world, namespace, sock_key, args):
    """Issue 16: a client sending no payload or several arguments still gets an ack, not silence."""
    socks, _, _ = world
    sock = socks[sock_key]
    for event in events_of(namespace):
        ack = sock.emit(event, *args, namespace=namespace, callback=True)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, args, ack)
        if not ack["ok"]:
            assert isinstance(ack.get("error"), str) and ack.get("message"), (event, ack)


@pytest.mark.parametrize(
    "namespace, sock_key", [("/exam", "cand"), ("/proctor", "proctor"), ("/board", "board")]
)
def test_an_unknown_event_gets_an_error_ack_not_silence(world, namespace, sock_key):
    """The outsider's second check: an event no handler knows was acknowledged with nothing."""
    socks, _, _ = world
    for args in [(), ({"attempt": 1},), ({}, 2)]:
        ack = socks[sock_key].emit("nosuch", *args, namespace=namespace, callback=True)
        assert isinstance(ack, dict) and ack["ok"] is False, (namespace, args, ack)
        assert ack["error"] == "unknown_event" and ack["message_en"] == "Unknown event."
