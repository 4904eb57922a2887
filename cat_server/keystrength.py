"""How much guessing a configured key resists: patterned keys are refused at start-up.

The length rule alone (32 bytes) let through keys anyone would try first:
``'a' * 32``, ``'0123456789' * 4``, a short word repeated. :func:`estimate_bits`
is a deliberately simple, conservative estimate of the guesses a key costs: a
character counts only when nothing before it predicts it, and each such
character is worth what the key's alphabet allows. A random key from
``secrets`` (hex, urlsafe) loses next to nothing to it; a patterned one is
left with a few dozen bits.
"""

from __future__ import annotations

import math
import string

# below this estimate a key is refused: a random 32-character hex key scores ~128
MIN_KEY_BITS = 100
MAKE_A_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"

_HEX = frozenset(string.hexdigits)
_CLASSES = (  # (characters, how many the class holds)
    (frozenset(string.digits), 10),
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset("-_"), 2),
    (frozenset(string.punctuation) - frozenset("-_"), 30),
    (frozenset(" "), 1),
)


def alphabet_size(key: str) -> int:
    """How many characters the key's kind of text draws from (hex: 16; ``token_urlsafe``: 64)."""
    chars = set(key)
    if chars <= _HEX and (chars <= set(string.hexdigits[:16]) or chars <= set("0123456789ABCDEF")):
        return 16
    size = sum(n for members, n in _CLASSES if chars & members)
    if any(c not in string.printable for c in chars):
        size += 128  # anything beyond ASCII: generous, a non-ASCII key is rare
    return max(size, 2)


def estimate_bits(key: str | bytes) -> float:
    """Bits of guessing the key is worth, counting only the characters nothing predicts.

    A character is predicted when it continues a run of equal steps (``aaaa``,
    ``abcd``, ``0123``, ``9876``: the fourth on) or repeats four characters met
    before (``rahasia rahasia``: from the fourth of the repeat on). Random text
    meets either rule about once in 4 000 characters.
    """
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    codes = [ord(c) for c in key]
    novel = 0
    for i in range(len(codes)):
        steps = {codes[j] - codes[j - 1] for j in range(i - 2, i + 1)} if i >= 3 else None
        if steps is not None and len(steps) == 1:
            continue  # the fourth (and later) of an equal-step run
        if i >= 3 and key[i - 3 : i + 1] in key[:i]:
            continue  # the end of four characters seen before
        novel += 1
    return novel * math.log2(alphabet_size(key))


def weakness(key: str | bytes) -> str | None:
    """Why the key is too easy to guess, or None when it is fine."""
    bits = estimate_bits(key)
    if bits < MIN_KEY_BITS:
        return (
            f"it follows a pattern (repeated or consecutive characters, a repeated word): "
            f"about {bits:.0f} bits of guessing, under the {MIN_KEY_BITS} required"
        )
    return None
