"""Password and PIN hashing (argon2id)."""

import functools
import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_passwords = PasswordHasher()
# PINs: 300 candidates log in within a minute on one gevent worker, so a PIN
# hash must cost milliseconds; guessing is stopped by login rate limits.
_pins = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _passwords.hash(password)


_dummy_hashes: dict[str, str] = {}


def dummy_password_hash() -> str:
    """A password hash of a random secret, made once per process with the same cost as real ones.

    Verified against when a login names no (active) account, so that path costs
    what a real one does. Made on first use, off the event loop like a verify.
    """
    return _dummy("password", hash_password)


def hash_pin(pin: str) -> str:
    return _pins.hash(pin)


def dummy_pin_hash() -> str:
    """A PIN hash of a random secret at the PIN cost: what an unknown registration number costs."""
    return _dummy("pin", hash_pin)


def _dummy(kind: str, hash_function) -> str:
    if kind not in _dummy_hashes:
        _dummy_hashes[kind] = _off_the_loop(hash_function, secrets.token_urlsafe(24))
    return _dummy_hashes[kind]


def verify(hash_: str, secret: str) -> bool:
    """True if ``secret`` matches ``hash_``; never raises on a bad or foreign hash."""
    return _off_the_loop(_verify, hash_, secret)


def _verify(hash_: str, secret: str) -> bool:
    try:
        return _passwords.verify(hash_, secret)
    except (VerificationError, InvalidHashError):
        return False


def _off_the_loop(function, *args):
    """Run a CPU-bound call in a thread pool of its own, at low priority, under gevent.

    An argon2 verify costs tens of milliseconds of CPU and releases the GIL; run
    on the event loop it would stall every socket of the worker for that long
    per login (a burst of logins = answers and /healthz waiting seconds). In the
    pool it runs beside the loop, and logins in flight become visible to the
    admission guard (admission.py), which answers the excess with 503 at once.

    The pool's threads run at nice ``HASH_NICE``: at normal priority, four
    logins hashing at once on a 2-core box got as much CPU as the event loop
    each, and /healthz and the seats' answers waited behind them (issue 9,
    overload). Lowered, they take what the loop and the database leave, which is
    most of it outside a flood.

    The pool has ``HASH_THREADS`` threads (default 1), not one per core: each
    verify is one thread's CPU (a PIN 20 ms, a staff password 180 ms), so a
    flood of logins can keep at most that many cores busy hashing, and the rest
    stay with the event loop and the database (the seats' answer acks; issue 16,
    docs/SECURITY.md "Login floods and answer acks"). One thread verifies about
    50 PINs a second, a room's worth in six seconds; logins beyond it wait in
    the pool, and beyond ``MAX_LOGINS_IN_FLIGHT`` get 503.
    """
    return _beside_the_loop("hash", _pool_size(), function, *args)


off_the_loop = _off_the_loop  # sealed/release.py runs a release code's scrypt there too


def in_the_background(function, *args, **kwargs):
    """Run a long CPU-bound call (an admin's upload read and sanitised) beside the event loop.

    Reading a 40,000-item bank on the loop stopped every seat's answer acks for
    11 s, a 600,000-column header for 20 s (issue 16, outsider's attack). In a
    thread of its own, at low priority, the loop keeps its turns: Python hands
    the GIL over every few milliseconds when the loop asks for it. A pool of one
    apart from the hash pool, so an upload never queues the candidates' logins.
    Without gevent (the CLI, the test client) it simply runs.
    """
    return _beside_the_loop("background", 1, functools.partial(function, **kwargs), *args)


HASH_NICE = 10
_pools = {}  # name -> gevent ThreadPool, made on first use
_lowered_threads: set[int] = set()


def _beside_the_loop(pool: str, size: int, function, *args):
    """``function(*args)`` in the named pool's threads at nice HASH_NICE under gevent; else here."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover  (gevent is a dependency)
        return function(*args)
    if not monkey.is_module_patched("socket"):
        return function(*args)
    if pool not in _pools:
        from gevent.threadpool import ThreadPool

        _pools[pool] = ThreadPool(size)
    return _pools[pool].apply(_lowered, (function, *args))


def _pool_size() -> int:
    from flask import current_app, has_app_context

    size = current_app.config.get("HASH_THREADS", 1) if has_app_context() else 1
    return max(1, int(size))


def _lowered(function, *args):
    thread = threading.get_native_id()
    if thread not in _lowered_threads:  # once per pool thread (Linux: nice is per thread)
        try:
            os.setpriority(os.PRIO_PROCESS, thread, HASH_NICE)
        except OSError:  # pragma: no cover  (not permitted: run at the process's priority)
            pass
        _lowered_threads.add(thread)
    return function(*args)


def new_pin(rng=secrets) -> str:
    """A 6-digit PIN."""
    return f"{rng.randbelow(10**6):06d}"
