"""Lock-outs (issue 16): a guesser cannot lock a candidate or a staff member out.

The failure budget is per account *and* address: five wrong PINs from one
workstation refuse that workstation for that account, never the real candidate
at their own seat. Across addresses an account has a wider budget (ten wrong
guesses an hour); once spent, an address that has already failed for the
account is refused, and an address that has not gets one try, so the real
candidate at a clean seat still gets in with the right PIN while a guesser
spreading over many addresses gets one guess per address. Refused logins never
reach the PIN check. Failed logins and lock-outs are audited, counted per
window (one row at the 1st, 10th, 100th... of each address's window), not one
row per guess. Each test runs on SQLite and PostgreSQL (and, where it matters,
on Redis storage too).
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from limits.storage import memory as memory_storage

from cat_server import create_app, security
from cat_server.extensions import db
from cat_server.models import AuditEvent
from tests.conftest import PIN, make_config, make_sitting, make_user

SEAT = "10.0.0.5"  # the real candidate's workstation
GUESSER = "10.0.0.66"
WRONG = [f"{n:06d}" for n in range(100_000, 101_000)]
PAIR = 5  # CAT_LOGIN_LIMIT_PER_ADDRESS_AND_ACCOUNT: 5 per 5 minutes
ACCOUNT = 10  # CAT_LOGIN_LIMIT_PER_ACCOUNT: 10 per hour


def candidate_login(client, sitting_id, registration_no, pin, address, **kwargs):
    return client.post(
        f"/exam/{sitting_id}/",
        data={"registration_no": registration_no, "pin": pin},
        environ_base={"REMOTE_ADDR": address},
        **kwargs,
    )


def staff_login(client, username, password, address):
    return client.post(
        "/login",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def sitting(app):
    with app.app_context():
        return make_sitting(n_candidates=3, proctor=make_user())


def audit_rows(app, action):
    with app.app_context():
        return (
            db.session.execute(
                db.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )


class Clock:
    """Moves the in-memory limit storage's clock (windows expire without waiting)."""

    def __init__(self, monkeypatch):
        self.offset = 0.0
        clock = self

        class FakeTime:
            @staticmethod
            def time():
                return time.time() + clock.offset

        monkeypatch.setattr(memory_storage, "time", FakeTime)

    def advance(self, seconds):
        self.offset += seconds


# --- (a) per account and address -----------------------------------------------


def test_a_guesser_at_another_seat_does_not_lock_the_candidate_out(app, sitting):
    guesser = app.test_client()
    codes = [
        candidate_login(guesser, sitting, "20260001", WRONG[i], GUESSER).status_code
        for i in range(8)
    ]
    assert codes == [401] * PAIR + [429] * 3
    refused = candidate_login(guesser, sitting, "20260001", PIN, GUESSER)  # even the right PIN
    assert refused.status_code == 429
    assert "Terlalu banyak percobaan" in refused.get_data(as_text=True)
    # the real candidate, at their own workstation, with the right PIN
    assert candidate_login(app.test_client(), sitting, "20260001", PIN, SEAT).status_code == 302


def test_the_refusal_says_when_to_try_again_as_before(app, sitting):
    client = app.test_client()
    for i in range(PAIR):
        candidate_login(client, sitting, "20260001", WRONG[i], GUESSER)
    refused = candidate_login(
        client, sitting, "20260001", PIN, GUESSER, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["ok"] is False and body["error"] == "too_many_attempts"
    assert body["message"].startswith("Terlalu banyak percobaan masuk.")
    assert body["message_en"].startswith("Too many login attempts.")
    assert 0 < body["retry_after"] <= 300
    assert refused.headers["Retry-After"]


def test_a_refused_login_never_reaches_the_pin_check(app, sitting, monkeypatch):
    client = app.test_client()
    for i in range(PAIR):
        candidate_login(client, sitting, "20260001", WRONG[i], GUESSER)
    verified = []
    real_verify = security._verify
    monkeypatch.setattr(security, "_verify", lambda h, s: verified.append(h) or real_verify(h, s))
    for i in range(20):
        assert candidate_login(client, sitting, "20260001", WRONG[i], GUESSER).status_code == 429
    assert verified == []


def test_parallel_guesses_cannot_overrun_the_budget(app, sitting, monkeypatch):
    """Each try is reserved before the PIN check: 12 guesses at once, 5 checked."""
    verified = []
    real_verify = security._verify
    monkeypatch.setattr(security, "_verify", lambda h, s: verified.append(h) or real_verify(h, s))
    start = threading.Barrier(12)

    def guess(i):
        client = app.test_client()
        start.wait()
        return candidate_login(client, sitting, "20260001", WRONG[i], GUESSER).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(guess, range(12)))
    assert sorted(codes) == [401] * PAIR + [429] * 7
    assert len(verified) == PAIR


def test_ipv6_addresses_of_one_network_share_a_budget(app, sitting):
    client = app.test_client()
    for i in range(PAIR):  # one host owns its whole /64: each guess from a new address in it
        address = f"2001:db8:1:2::{i + 1:x}"
        assert candidate_login(client, sitting, "20260001", WRONG[i], address).status_code == 401
    assert candidate_login(client, sitting, "20260001", PIN, "2001:db8:1:2::99").status_code == 429
    assert candidate_login(client, sitting, "20260001", PIN, "2001:db8:1:3::1").status_code == 302


# --- (b) per account, across addresses: slowed, never locked ----------------------


def test_guessing_from_many_addresses_is_slowed_to_one_guess_per_address(app, sitting):
    """After the account's 10 failures an hour, each failed address is refused and each
    fresh address gets one try: the real candidate at a clean seat still gets in."""
    client = app.test_client()
    wrong = iter(WRONG)
    tried = {}
    for n in range(30):
        address = f"10.0.1.{n + 1}"
        tried[address] = [
            candidate_login(client, sitting, "20260001", next(wrong), address).status_code
            for _ in range(PAIR + 1)
        ]
    # the first two addresses spend the account's budget, five each
    assert tried["10.0.1.1"] == tried["10.0.1.2"] == [401] * PAIR + [429]
    # every further address: one wrong guess, then refused
    for n in range(3, 31):
        assert tried[f"10.0.1.{n}"] == [401] + [429] * PAIR, n
    wrong_guesses = sum(codes.count(401) for codes in tried.values())
    assert wrong_guesses == ACCOUNT + 28  # not 30 addresses x 5
    # a failed address is refused even with the right PIN; a clean seat gets in
    assert candidate_login(client, sitting, "20260001", PIN, "10.0.1.7").status_code == 429
    assert candidate_login(app.test_client(), sitting, "20260001", PIN, SEAT).status_code == 302
    # again and again (a reload, a seat move back): its right PIN does not use up a try
    for _ in range(3):
        assert candidate_login(app.test_client(), sitting, "20260001", PIN, SEAT).status_code == 302
    # the neighbours are not touched
    assert candidate_login(client, sitting, "20260002", PIN, "10.0.1.7").status_code == 302


def test_the_account_budget_comes_back_with_time(app, sitting, monkeypatch):
    clock = Clock(monkeypatch)
    client = app.test_client()
    wrong = iter(WRONG)
    for address in ("10.0.1.1", "10.0.1.2"):
        for _ in range(PAIR):
            assert (
                candidate_login(client, sitting, "20260001", next(wrong), address).status_code
                == 401
            )
    clock.advance(301)  # the per-address windows are over, the account's hour is not
    assert candidate_login(client, sitting, "20260001", next(wrong), "10.0.1.1").status_code == 429
    clock.advance(3600)
    assert candidate_login(client, sitting, "20260001", next(wrong), "10.0.1.1").status_code == 401


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_the_rules_hold_on_every_storage(request, db_url, storage):
    """With Redis, every server process of the centre counts together."""
    extra = {"RATELIMIT_KEY_PREFIX": f"cat-test-{secrets.token_hex(4)}"}
    if storage == "redis":
        extra["RATELIMIT_STORAGE_URI"] = request.getfixturevalue("redis_url")
    apps = [create_app(make_config(db_url, **extra)) for _ in range(2)]
    with apps[0].app_context():
        db.create_all()
        sitting = make_sitting(name=f"Sesi {secrets.token_hex(3)}")
    wrong = iter(WRONG)
    codes = [
        candidate_login(
            apps[i % 2].test_client(), sitting, "20260001", next(wrong), GUESSER
        ).status_code
        for i in range(PAIR + 2)
    ]
    assert codes == [401] * PAIR + [429] * 2
    for each in apps:
        assert (
            candidate_login(each.test_client(), sitting, "20260001", PIN, SEAT).status_code == 302
        )
    for each in apps:
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


# --- (d) staff accounts: the same scheme ------------------------------------------


@pytest.mark.parametrize("username", ["admin", "pengawas"])
def test_a_staff_account_cannot_be_locked_out_from_another_address(app, username):
    with app.app_context():
        make_user(username, role="admin" if username == "admin" else "proctor")
    guesser = app.test_client()
    codes = [
        staff_login(guesser, username.upper(), f"salah-{i}", GUESSER).status_code
        for i in range(ACCOUNT + 5)
    ]
    assert codes == [401] * PAIR + [429] * (ACCOUNT)
    assert staff_login(guesser, username, "rahasia-123", GUESSER).status_code == 429
    assert staff_login(app.test_client(), username, "rahasia-123", SEAT).status_code == 302


def test_staff_guessing_from_many_addresses_is_slowed_too(app):
    with app.app_context():
        make_user("admin", role="admin")
    client = app.test_client()
    codes = [
        staff_login(client, "admin", f"salah-{n}-{i}", f"10.0.2.{n}").status_code
        for n in range(1, 6)
        for i in range(PAIR)
    ]
    assert codes[: 2 * PAIR] == [401] * (2 * PAIR)
    assert codes[2 * PAIR :] == ([401] + [429] * (PAIR - 1)) * 3
    assert staff_login(app.test_client(), "admin", "rahasia-123", SEAT).status_code == 302


# --- the same cost whether the account exists or not -------------------------------


def argon2_cost(hash_: str) -> list[str]:
    return hash_.split("$")[1:4]


@pytest.mark.parametrize(
    "who", ["unknown_number", "right_number_wrong_pin", "right_number_right_pin"]
)
def test_a_candidate_login_runs_one_pin_verify_of_the_same_cost(app, sitting, monkeypatch, who):
    with app.app_context():
        from cat_server.models import Candidate

        real_cost = argon2_cost(
            db.session.execute(
                db.select(Candidate.pin_hash).where(Candidate.registration_no == "20260001")
            ).scalar_one()
        )
    verified = []
    real_verify = security._verify
    monkeypatch.setattr(security, "_verify", lambda h, s: verified.append(h) or real_verify(h, s))
    number, pin, status = {
        "unknown_number": ("20269999", PIN, 401),
        "right_number_wrong_pin": ("20260001", WRONG[0], 401),
        "right_number_right_pin": ("20260001", PIN, 302),
    }[who]
    assert candidate_login(app.test_client(), sitting, number, pin, SEAT).status_code == status
    (hash_,) = verified  # exactly one verify, whether the number exists or not
    assert argon2_cost(hash_) == real_cost


def test_unknown_numbers_are_limited_like_known_ones(app, sitting):
    """The limits answer the same, so they do not tell which numbers exist either."""
    client = app.test_client()
    known = [
        candidate_login(client, sitting, "20260001", WRONG[i], GUESSER).status_code
        for i in range(PAIR + 1)
    ]
    unknown = [
        candidate_login(client, sitting, "20269999", WRONG[i], GUESSER).status_code
        for i in range(PAIR + 1)
    ]
    assert known == unknown == [401] * PAIR + [429]


# --- audited, without flooding ----------------------------------------------------


def test_failed_logins_and_lock_outs_are_audited_counted_per_window(app, sitting):
    # 100 failures from one address: the spray budget (30, section (c)) out of the way
    app.config["LOGIN_FAILURES_PER_ADDRESS"] = "1000 per hour"
    client = app.test_client()
    numbers = [f"2026{n:04d}" for n in range(1, 21)]  # 3 enrolled, 17 unknown
    for number in numbers:
        for i in range(PAIR + 1):  # 5 wrong, then refused
            candidate_login(client, sitting, number, WRONG[i], GUESSER)
    failed = audit_rows(app, "login_failed")
    # 100 wrong PINs from one address in one window: rows at the 1st, 10th and 100th
    assert [row.data["failures"] for row in failed] == [1, 10, 100]
    assert {row.actor for row in failed} == {f"address:{GUESSER}"}
    assert {row.sitting_id for row in failed} == {sitting}
    locked = audit_rows(app, "login_locked")
    # 20 accounts refused to this address: rows at the 1st and 10th
    assert [row.data["locks"] for row in locked] == [1, 10]
    assert locked[0].data["account"] == "20260001" and locked[0].data["address"] == GUESSER
    refused = audit_rows(app, "login_refused")
    assert [row.data["refused"] for row in refused] == [1, 10]


def test_an_account_slowed_across_addresses_is_audited_once_a_window(app, sitting):
    client = app.test_client()
    for n in range(1, 7):
        for i in range(PAIR):
            candidate_login(client, sitting, "20260002", WRONG[i], f"10.0.3.{n}")
    (row,) = audit_rows(app, "login_slowed")
    assert row.sitting_id == sitting and row.data["account"] == "20260002"
    assert row.data["failures"] == ACCOUNT


def test_the_admins_reset_of_a_sittings_pins_lifts_their_lockouts(app):
    from tests.test_admin_users import admin_client

    admin = admin_client(app)  # sitting 1, candidates 20260001-2
    client = app.test_client()
    for i in range(PAIR):
        assert candidate_login(client, 1, "20260001", WRONG[i], SEAT).status_code == 401
    assert candidate_login(client, 1, "20260001", WRONG[PAIR], SEAT).status_code == 429
    assert admin.post("/admin/sittings/1/pins", data={"reason": "slip hilang"}).status_code == 200
    # a new PIN, new odds: the seat may try again (the old PIN is gone anyway)
    assert candidate_login(client, 1, "20260001", PIN, SEAT).status_code == 401


# --- (c) per address across accounts: spraying a room ----------------------------------

SPRAY = 30  # CAT_LOGIN_FAILURES_PER_ADDRESS: 30 per hour


def test_one_address_spraying_a_room_gets_one_guess_per_account(app):
    """Past its 30 failures an hour across accounts, an address is refused for the accounts
    it has failed for, and only those: a room's worth of accounts gets one wrong guess
    each, not five every five minutes; untouched candidates behind the same (NAT)
    address still get in; a proctor's lift opens the account to it again."""
    from cat_server import lockout

    sprayer = "10.0.9.9"
    with app.app_context():
        sitting_id = make_sitting(n_candidates=45, proctor=make_user())
    numbers = [f"2026{i:04d}" for i in range(1, 46)]
    attacked, untouched = numbers[:40], numbers[40:]
    client = app.test_client()
    wrong = iter(WRONG)
    rounds = []
    for _ in range(3):  # round robin over the room, as a sprayer would
        rounds.append(
            [
                candidate_login(client, sitting_id, n, next(wrong), sprayer).status_code
                for n in attacked
            ]
        )
    # round 1: one wrong guess on each (the 31st to 40th on accounts it had not failed for)
    assert rounds[0] == [401] * 40
    # after: every account it failed for is closed to it, well before 5 per account
    assert rounds[1] == rounds[2] == [429] * 40
    refused = candidate_login(
        client, sitting_id, attacked[0], PIN, sprayer, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 429 and refused.get_json()["scope"] == "spray"
    # candidates behind the same address whose accounts it never failed for get in
    for number in untouched:
        assert (
            candidate_login(app.test_client(), sitting_id, number, PIN, sprayer).status_code == 302
        )
    # an attacked candidate at their own seat gets in
    assert candidate_login(app.test_client(), sitting_id, attacked[1], PIN, SEAT).status_code == 302
    # the proctor lifts an account's lock-out: the address may try it again
    with app.app_context():
        lockout.lift(lockout.candidate(sitting_id, attacked[2]))
    assert (
        candidate_login(app.test_client(), sitting_id, attacked[2], PIN, sprayer).status_code == 302
    )
    # audited once, when the address spent its budget
    rows = audit_rows(app, "login_spraying")
    assert len(rows) == 1 and rows[0].data["failures"] == SPRAY
    assert rows[0].actor == f"address:{sprayer}"


def test_under_its_budget_an_address_keeps_the_per_account_rules(app, sitting):
    """29 failures across accounts: nothing more than the five per account and address."""
    client = app.test_client()
    wrong = iter(WRONG)
    codes = [
        candidate_login(client, sitting, n, next(wrong), GUESSER).status_code
        for n in ("20260001", "20260002", "20260003")
        for _ in range(PAIR)
    ]
    assert codes == [401] * (3 * PAIR)  # 15 < 30: each account's five, as before
