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


def hash_pin(pin: str) -> str:
    return _pins.hash(pin)


def verify(hash_: str, secret: str) -> bool:
    """True if ``secret`` matches ``hash_``; never raises on a bad or foreign hash."""
    try:
        return _passwords.verify(hash_, secret)
    except (VerificationError, InvalidHashError):
        return False


def new_pin(rng=secrets) -> str:
    """A 6-digit PIN."""
    return f"{rng.randbelow(10**6):06d}"
