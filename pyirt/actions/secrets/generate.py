"""New secret values, masked from birth.

The default is the seed's ``openssl rand -base64 32``: 32 random bytes, base64 (44 characters).
``alphabet`` names an encoding of ``length`` random bytes (``base64``, ``base64url``, ``hex``) or
the characters to draw ``length`` of (``alnum``, or a literal set such as ``"abcdef0123456789"``).
Randomness comes from :mod:`secrets` only.
"""

from __future__ import annotations

import base64
import string
from secrets import choice, token_bytes

from pyirt.core.secrets import Redactor, Secret

ENCODINGS = ("base64", "base64url", "hex")
ALPHABETS = {"alnum": string.ascii_letters + string.digits}
MAX_LENGTH = 4096


def check(length: int, alphabet: str) -> str | None:
    """Why ``length`` and ``alphabet`` cannot make a value, or None."""
    if isinstance(length, bool) or not isinstance(length, int) or not 16 <= length <= MAX_LENGTH:
        return f"length must be a whole number from 16 to {MAX_LENGTH}, got {length!r}"
    if alphabet in ENCODINGS or alphabet in ALPHABETS:
        return None
    if len(set(alphabet)) < 2:
        return (f"alphabet must be one of {', '.join((*ENCODINGS, *ALPHABETS))} or at least two distinct "
                f"characters")
    return None


def generate(length: int = 32, alphabet: str = "base64", *, redact: Redactor | None = None) -> Secret:
    """A new random value, registered with ``redact`` before it is returned."""
    why = check(length, alphabet)
    if why:
        raise ValueError(why)
    if alphabet in ENCODINGS:
        raw = token_bytes(length)
        if alphabet == "hex":
            text = raw.hex()
        elif alphabet == "base64url":
            text = base64.urlsafe_b64encode(raw).decode("ascii")
        else:
            text = base64.b64encode(raw).decode("ascii")
    else:
        chars = ALPHABETS.get(alphabet) or "".join(dict.fromkeys(alphabet))
        text = "".join(choice(chars) for _ in range(length))
    if redact is not None:
        redact.add(text)
    return Secret(text, ref="generated")
