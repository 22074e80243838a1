"""New values: the seed's ``openssl rand -base64 32`` by default, other lengths and alphabets on request."""

from __future__ import annotations

import base64
import string

import pytest

from pyirt.actions.secrets.generate import generate
from pyirt.core.secrets import Redactor, Secret


def test_the_default_is_32_random_bytes_in_base64_masked_and_registered() -> None:
    redact = Redactor()
    value = generate(redact=redact)
    assert isinstance(value, Secret) and str(value) == "***" and repr(value) == "Secret(generated)"
    assert len(base64.b64decode(value.reveal(), validate=True)) == 32 and len(value.reveal()) == 44
    assert redact(f"token={value.reveal()}") == "token=***"
    assert generate().reveal() != value.reveal()


@pytest.mark.parametrize(("alphabet", "length", "check"), [
    ("hex", 16, lambda v: len(v) == 32 and set(v) <= set(string.hexdigits)),
    ("base64url", 24, lambda v: len(base64.urlsafe_b64decode(v)) == 24 and "+" not in v and "/" not in v),
    ("alnum", 40, lambda v: len(v) == 40 and v.isalnum()),
    ("ab", 64, lambda v: len(v) == 64 and set(v) <= {"a", "b"}),
])
def test_length_and_alphabet_are_configurable(alphabet: str, length: int, check: object) -> None:
    assert check(generate(length, alphabet).reveal())  # type: ignore[operator]


@pytest.mark.parametrize(("length", "alphabet", "why"), [
    (8, "base64", "length must be a whole number from 16"),
    (32, "x", "at least two distinct characters"),
    (True, "hex", "length must be"),
])
def test_weak_or_malformed_requests_are_refused(length: object, alphabet: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        generate(length, alphabet)  # type: ignore[arg-type]
