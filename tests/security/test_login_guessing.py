"""PIN guessing is stopped per account while a whole centre logs in from one NAT address.

The limits at work together (lockout.login_limits): per address, 1200 logins a
minute (a centre behind one NAT address logs in 600 a minute at peak); per
account and address, 5 failures in 5 minutes (tests/security/test_lockout.py has
the other addresses and the per-account budget). Here, from one address and
interleaved:
LEGIT legitimate logins (each a different candidate, right PIN; 600 in the
full run, 100 in CI) and a guesser
trying PINs on some accounts. Every legitimate login gets in; the guesser gets
429 from the 6th guess on each account, even with the right PIN; the accounts
it did not touch are not affected. With Redis storage (CAT_TEST_REDIS_URL set,
as every process of a centre shares the counts there) and with memory storage.
"""

from __future__ import annotations

import os
import secrets
import time

import pytest

from cat_server import create_app, security
from cat_server.extensions import db
from cat_server.models import Candidate, Seat
from tests.conftest import PIN, login_candidate, make_config, make_sitting
from tests.live import full_run

# CI: 100 legitimate logins (the 600-a-minute allowance itself is checked in
# tests/test_admin.py::test_per_ip_limit_lets_a_whole_centre_log_in); make reliability: 600.
LEGIT = int(os.environ.get("CAT_GUESS_LEGIT_LOGINS", "100"))
EVERY = max(1, LEGIT // 25)  # one guess every EVERY logins: about 8 per attacked account
TARGETS = 4  # accounts the guesser attacks
STORAGES = ["redis"] if os.environ.get("CAT_TEST_REDIS_URL") else ["memory"]
if full_run():  # make reliability: both
    STORAGES = ["memory", "redis"]


@pytest.mark.parametrize("storage", STORAGES)
def test_pin_guessing_is_stopped_while_a_centre_logs_in_from_one_address(
    request, storage, tmp_path
):
    legit_prefix = f"8{secrets.randbelow(10**4):04d}"
    extra = {"RATELIMIT_KEY_PREFIX": f"cat-test-{secrets.token_hex(4)}"}  # shared Redis
    if storage == "redis":
        extra["RATELIMIT_STORAGE_URI"] = request.getfixturevalue("redis_url")
    app = create_app(make_config(f"sqlite:///{tmp_path / 'guess.db'}", **extra))
    with app.app_context():
        db.create_all()
        sitting_id = make_sitting(n_candidates=TARGETS)
        # fresh account names: Flask-Limiter keeps the first app's key prefix for the
        # process, and the shared Redis may still count failures of an earlier run
        targets = [f"9{secrets.randbelow(10**8):08d}" for _ in range(TARGETS)]
        for candidate, number in zip(
            db.session.query(Candidate).order_by(Candidate.id), targets, strict=True
        ):
            candidate.registration_no = number
        pin_hash = security.hash_pin(PIN)  # one hash for all: the setup stays fast
        for i in range(LEGIT):
            seat = Seat(sitting_id=sitting_id, label=f"L-{i:03d}", position=100 + i)
            db.session.add(seat)
            db.session.flush()
            db.session.add(
                Candidate(
                    sitting_id=sitting_id,
                    registration_no=f"{legit_prefix}{i:04d}",
                    name=f"Peserta {i}",
                    pin_hash=pin_hash,
                    seat_id=seat.id,
                )
            )
        db.session.commit()
    client = app.test_client()  # one address for everyone: the centre's NAT
    guesses = {t: [] for t in targets[:-1]}  # the last target: never attacked
    legit_codes = []
    started = time.monotonic()
    for i in range(LEGIT):
        legit_codes.append(
            login_candidate(client, sitting_id, f"{legit_prefix}{i:04d}").status_code
        )
        if i % EVERY == 0:  # a guess now and then, in turn over the attacked accounts
            target = targets[(i // EVERY) % (TARGETS - 1)]
            wrong = f"{(i * 7919) % 10**6:06d}"
            guesses[target].append(
                login_candidate(client, sitting_id, target, pin=wrong).status_code
            )
    seconds = time.monotonic() - started
    print(
        f"\nGUESSING {storage}: {LEGIT} logins in {seconds:.1f} s, guesses "
        f"{ {t: codes for t, codes in guesses.items()} }"
    )
    assert set(legit_codes) == {302}, {c: legit_codes.count(c) for c in set(legit_codes)}
    for target, codes in guesses.items():
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, (target, codes)
        # the account stays closed to guessing, even for the right PIN
        assert login_candidate(client, sitting_id, target).status_code == 429
    assert login_candidate(client, sitting_id, targets[-1]).status_code == 302  # untouched
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
