"""Password and PIN hashing (argon2id)."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_passwords = PasswordHasher()
# PINs: 300 candidates log in within a minute on one gevent worker, so a PIN
# hash must cost milliseconds; guessing is stopped by login rate limits.
_pins = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _passwords.hash(password)


_dummy_hash: str | None = None


def dummy_password_hash() -> str:
    """A password hash of a random secret, made once per process with the same cost as real ones.

    Verified against when a login names no (active) account, so that path costs
    what a real one does. Made on first use, off the event loop like a verify.
    """
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _off_the_loop(hash_password, secrets.token_urlsafe(24))
    return _dummy_hash


def hash_pin(pin: str) -> str:
    return _pins.hash(pin)


def verify(hash_: str, secret: str) -> bool:
    """True if ``secret`` matches ``hash_``; never raises on a bad or foreign hash."""
    return _off_the_loop(_verify, hash_, secret)


def _verify(hash_: str, secret: str) -> bool:
    try:
        return _passwords.verify(hash_, secret)
    except (VerificationError, InvalidHashError):
        return False


def _off_the_loop(function, *args):
    """Run a CPU-bound call in gevent's thread pool when serving under gevent.

    An argon2 verify costs tens of milliseconds of CPU and releases the GIL; run
    on the event loop it would stall every socket of the worker for that long
    per login (a burst of logins = answers and /healthz waiting seconds). In the
    pool it runs beside the loop, and logins in flight become visible to the
    admission guard (admission.py), which answers the excess with 503 at once.
    """
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover  (gevent is a dependency)
        return function(*args)
    if not monkey.is_module_patched("socket"):
        return function(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(function, args)


def new_pin(rng=secrets) -> str:
    """A 6-digit PIN."""
    return f"{rng.randbelow(10**6):06d}"
