"""Login lock-outs: wrong PINs and passwords counted per account and address, and lifting them.

The budgets, kept in the limit storage every server process shares (Redis when
CAT_REDIS_URL is set, memory otherwise):

- per address, ``LOGIN_LIMIT_PER_IP`` logins (Flask-Limiter's own limit; a whole
  centre may sit behind one NAT address);
- per account and address, ``LOGIN_LIMIT_PER_ADDRESS_AND_ACCOUNT`` failures (5 per
  5 minutes): past it that address is refused (429) for that account, and only
  for it;
- per account across addresses, ``LOGIN_LIMIT_PER_ACCOUNT`` failures (10 an hour):
  past it the account is *slowed*: an address that has failed for it within
  ``LOGIN_FAILED_ADDRESS_MEMORY_S`` (a day) is refused, any other address gets one
  try. So the real candidate at a seat that has not failed always gets in with
  the right PIN, and a guesser gets one guess per fresh address;
- per address across accounts, ``LOGIN_FAILURES_PER_ADDRESS`` failures (30 an
  hour): past it that address is refused (429, scope ``spray``) for every account
  it has failed for (within ``LOGIN_FAILED_ADDRESS_MEMORY_S``), and only for
  those: one guesser spraying a whole room gets one guess per account, while the
  candidates behind the same NAT address who have not failed still get in.

An account is a candidate's (sitting, registration number) or a staff username,
whether it exists or not, so the answers do not tell which do. A try is
reserved before the PIN check and given back when the PIN was right: parallel
guesses cannot slip past a budget. Lifting (a proctor's action, a PIN reset)
moves the account to a new epoch, which forgets every count of the old one at
once, on every process. Failed logins, lock-outs and refusals are audited
counted per window (see ``_audit_counted``). docs/SECURITY.md has the arithmetic.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from blinker import Namespace
from flask import current_app, request
from limits import parse
from sqlalchemy.exc import SQLAlchemyError

from .errors import TooManyAttempts
from .extensions import db, limiter
from .models import Candidate, audit

_signals = Namespace()
# sender: the sitting id; ``candidate``: the candidate id, or None for every seat.
# Sent when a seat's lock-out as the proctor sees it changed (proctor.feed listens).
lockout_changed = _signals.signal("lockout-changed")


@dataclass(frozen=True)
class Account:
    """Whom a login names: a candidate of sitting ``sitting_id``, or (None) a staff username."""

    sitting_id: int | None
    name: str  # as typed, stripped: the registration number or the username

    @property
    def key(self) -> str:
        name = self.name.casefold()  # "PENGAWAS" is "pengawas"
        if len(name) > 80:  # longer than any real one: keep the storage keys short
            name = "#" + hashlib.sha256(name.encode()).hexdigest()[:32]
        if self.sitting_id is None:
            return f"staff:{name}"
        return f"candidate:{self.sitting_id}:{name}"

    @property
    def scope(self) -> str:
        return "staff" if self.sitting_id is None else f"sitting:{self.sitting_id}"


def candidate(sitting_id: int, registration_no: str) -> Account:
    return Account(sitting_id, (registration_no or "").strip())


def staff(username: str) -> Account:
    return Account(None, (username or "").strip())


def candidate_named() -> Account:
    """The candidate account a workstation's login form names."""
    return candidate(request.view_args["sitting_id"], request.form.get("registration_no", ""))


def staff_named() -> Account:
    """The staff account the staff login form names."""
    return staff(request.form.get("username", ""))


def client_address() -> str:
    """The client's address (ProxyFix sets it behind the centre's proxy); IPv6 by its /64.

    One IPv6 host commonly owns a whole /64: counted by the single address, it
    would have 2^64 fresh addresses to guess from.
    """
    raw = request.remote_addr or ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64] or "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# --- the rules ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Rules:
    pair: object  # limits.RateLimitItem: failures per account and address
    account: object  # failures per account, across addresses
    memory_s: int  # how long an address that failed counts as failed, for a slowed account
    spray: object  # failures per address, across accounts

    @property
    def epoch_s(self) -> int:
        # longer than every window, so an expired epoch has no counts left to revive
        return 2 * max(self.pair.get_expiry(), self.account.get_expiry(), self.memory_s)


def _rules() -> _Rules:
    config = current_app.config
    return _parsed(
        config["LOGIN_LIMIT_PER_ADDRESS_AND_ACCOUNT"],
        config["LOGIN_LIMIT_PER_ACCOUNT"],
        int(config["LOGIN_FAILED_ADDRESS_MEMORY_S"]),
        config.get("LOGIN_FAILURES_PER_ADDRESS", "30 per hour"),
    )


@functools.cache
def _parsed(pair: str, account: str, memory_s: int, spray: str) -> _Rules:
    return _Rules(parse(pair), parse(account), memory_s, parse(spray))


def _spray_key(address: str) -> str:
    """Failures of ``address`` across every account (no epoch: lifting one account keeps it)."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return f"lockout/{prefix}/address:{address}/failures"


def _base(account: Account) -> str:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return f"lockout/{prefix}/account:{account.key}"


def _epoch_key(account: Account) -> str:
    return f"{_base(account)}/epoch"


@dataclass(frozen=True)
class _Keys:
    pair: str  # failures of this account from this address
    account: str  # failures of this account from anywhere
    failed: str  # "this address has failed for this account" (LOGIN_FAILED_ADDRESS_MEMORY_S)


def _keys(account: Account, address: str = "") -> _Keys:
    epoch = limiter.storage.get(_epoch_key(account))
    base = f"{_base(account)}/{epoch}"
    return _Keys(f"{base}/address:{address}", f"{base}/all", f"{base}/failed:{address}")


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


# --- a login: admit, then settle ---------------------------------------------------


@dataclass(frozen=True)
class Try:
    """One reserved login try: what ``settle`` gives back or counts as a failure."""

    account: Account
    address: str
    keys: _Keys
    n_pair: int  # this try's place in the address's and the account's windows
    n_account: int
    claimed: bool  # a slowed account's one try for an address that had not failed


def admit(account: Account, address: str) -> Try:
    """Reserve one try for ``account`` from ``address``; TooManyAttempts (429) instead when
    a budget is spent. Nothing here looks at the PIN or whether the account exists."""
    rules, store = _rules(), limiter.storage
    keys = _keys(account, address)
    n_pair = store.incr(keys.pair, rules.pair.get_expiry())
    if n_pair > rules.pair.amount:
        store.incr(keys.pair, rules.pair.get_expiry(), -1)
        _refuse(account, address, rules.pair, keys.pair, "address")
    spray = _spray_key(address)
    if store.get(spray) >= rules.spray.amount and store.get(keys.failed) > 0:
        # the address has spent its failures across accounts, and this is one it failed for
        store.incr(keys.pair, rules.pair.get_expiry(), -1)
        _refuse(account, address, rules.spray, spray, "spray")
    n_account = store.incr(keys.account, rules.account.get_expiry())
    claimed = False
    if n_account > rules.account.amount:
        # slowed: one try for an address that has not failed for this account
        claimed = store.incr(keys.failed, rules.memory_s) == 1
        if not claimed:
            store.incr(keys.pair, rules.pair.get_expiry(), -1)
            store.incr(keys.account, rules.account.get_expiry(), -1)
            _refuse(account, address, rules.account, keys.account, "account")
    return Try(account, address, keys, n_pair, n_account, claimed)


def settle(attempt: Try, failed: bool) -> None:
    """Count a failed try; give a right one back (the real candidate's logins use up nothing)."""
    rules, store = _rules(), limiter.storage
    if not failed:
        store.incr(attempt.keys.pair, rules.pair.get_expiry(), -1)
        store.incr(attempt.keys.account, rules.account.get_expiry(), -1)
        if attempt.claimed:  # it had not failed, and still has not
            store.clear(attempt.keys.failed)
        return
    if not attempt.claimed:
        store.incr(attempt.keys.failed, rules.memory_s)
    account, address = attempt.account, attempt.address
    n_spray = store.incr(_spray_key(address), rules.spray.get_expiry())
    rows = [_audit_counted("login_failed", "failures", account, address, rules.pair.get_expiry())]
    if n_spray == rules.spray.amount:  # from now on refused for every account it failed for
        rows.append(
            _audit_counted(
                "login_spraying",
                "sprays",
                account,
                address,
                rules.spray.get_expiry(),
                failures=n_spray,
                until=_until(_spray_key(address)),
            )
        )
    if attempt.n_pair == rules.pair.amount:  # from now on this address is refused for it
        rows.append(
            _audit_counted(
                "login_locked",
                "locks",
                account,
                address,
                rules.pair.get_expiry(),
                until=_until(attempt.keys.pair),
            )
        )
    if attempt.n_account == rules.account.amount:  # from now on failed addresses are refused
        rows.append(
            _audit_counted(
                "login_slowed",
                "slowed",
                account,
                "",  # counted per sitting (or staff): each account is slowed once a window
                rules.account.get_expiry(),
                failures=attempt.n_account,
                last_address=address,
                until=_until(attempt.keys.account),
            )
        )
    _write(rows)
    if account.sitting_id is not None and attempt.n_account >= rules.pair.amount:
        _shown(account)


def login_limits(account_of):
    """Per address (``LOGIN_LIMIT_PER_IP``) and the lock-out rules for ``account_of()``.

    POST only. A response of 401 is a failure; any other answer gives the try back.
    """
    per_ip = limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            if request.method != "POST" or not _enabled():
                return view(*args, **kwargs)
            attempt = admit(account_of(), client_address())
            failed = False
            try:
                response = current_app.make_response(view(*args, **kwargs))
                failed = response.status_code == 401
                return response
            finally:
                settle(attempt, failed)

        return per_ip(guarded)

    return decorate


def _refuse(account, address, item, key, scope):
    _write(
        [_audit_counted("login_refused", "refused", account, address, _rules().pair.get_expiry())]
    )
    raise TooManyAttempts(
        limit=str(item), retry_after=max(1, math.ceil(_expiry(key) - time.time())), scope=scope
    )


def _expiry(key: str) -> float:
    return limiter.storage.get_expiry(key)


def _until(key: str) -> str:
    return datetime.fromtimestamp(_expiry(key), UTC).isoformat()


# --- audit, counted per window -----------------------------------------------------


def _audit_counted(action, count_name, account, address, window_s, **data):
    """An audit row at the 1st, 10th, 100th... ``action`` of this address (or, without one,
    of this scope) within ``window_s``, carrying the count; None for the others.

    A guesser's thousand wrong PINs are a handful of rows, each saying how many.
    """
    counter = f"lockout/{current_app.config.get('RATELIMIT_KEY_PREFIX', '')}/audit"
    n = limiter.storage.incr(f"{counter}/{action}/{account.scope}/{address}", window_s)
    if n < 1 or 10 ** round(math.log10(n)) != n:
        return None
    details = {k: v for k, v in data.items() if v is not None}
    if address:
        details["address"] = address
    return dict(
        actor=f"address:{address}" if address else "server",
        action=action,
        sitting_id=account.sitting_id,
        account=account.name[:80],
        window_s=window_s,
        **{count_name: n},
        **details,
    )


def _write(rows) -> None:
    rows = [row for row in rows if row is not None]
    if not rows:
        return
    try:
        db.session.rollback()  # a failed login wrote nothing; the audit goes alone
        for row in rows:
            audit(**row)
        db.session.commit()
    except SQLAlchemyError:  # the limits hold without it; the database may be down
        db.session.rollback()
        current_app.logger.exception("could not audit %s", [row["action"] for row in rows])


# --- what a proctor sees, and lifting ------------------------------------------------


def _gate_keys(sitting_id: int) -> list[str]:
    """This hour-bucket's and the last one's: any account of the sitting shown now was
    shown (had a failure at or past the shown count) within them."""
    window = _rules().account.get_expiry()
    bucket = int(time.time() // window)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    return [f"lockout/{prefix}/shown/{sitting_id}/{b}" for b in (bucket, bucket - 1)]


def _shown(account: Account) -> None:
    """The account's lock-out, as a proctor sees it, changed: open the sitting's gate, tell the feed."""
    limiter.storage.incr(_gate_keys(account.sitting_id)[0], 2 * _rules().account.get_expiry())
    candidate_id = db.session.execute(
        db.select(Candidate.id).where(
            Candidate.sitting_id == account.sitting_id, Candidate.registration_no == account.name
        )
    ).scalar_one_or_none()
    db.session.rollback()
    if candidate_id is not None:
        lockout_changed.send(account.sitting_id, candidate=candidate_id)


def state(account: Account) -> dict | None:
    """``{"failures", "slowed", "until"}`` while the account has had as many failed tries as
    refuse one address (5) within its window (an hour) -- so at least one address may be
    refused -- else None. ``slowed``: every address that failed is refused; ``until``: when
    the window ends (UTC, ISO 8601)."""
    if not _enabled():  # CAT_RATELIMIT_ENABLED=false: no counts, no lock-outs
        return None
    rules = _rules()
    key = _keys(account).account
    n = limiter.storage.get(key)
    if n < rules.pair.amount:
        return None
    return {"failures": n, "slowed": n >= rules.account.amount, "until": _until(key)}


def states(sitting_id: int, registration_nos) -> dict[str, dict]:
    """registration number -> ``state`` for the candidates of the sitting that have one.

    Two storage reads in all while no account of the sitting has been shown in the
    last hour (the proctor feed's snapshots ask several times a second).
    """
    registration_nos = list(registration_nos)
    if (
        not _enabled()
        or not registration_nos
        or not any(limiter.storage.get(key) for key in _gate_keys(sitting_id))
    ):
        return {}
    found = {}
    for number in registration_nos:
        if (now := state(candidate(sitting_id, number))) is not None:
            found[number] = now
    return found


def lift(account: Account, candidate_id: int | None = None) -> dict | None:
    """Forget every count of the account, from every address, on every process.

    Returns the ``state`` it had. The caller audits who and why. The seat (or, for
    ``candidate_id`` None, every seat of the sitting) is announced to the proctors.
    """
    before = state(account)
    if not _enabled():
        return before
    limiter.storage.incr(_epoch_key(account), _rules().epoch_s)
    if account.sitting_id is not None:
        lockout_changed.send(account.sitting_id, candidate=candidate_id)
    return before
