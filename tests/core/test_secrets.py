"""Secret values print as *** everywhere, and the redactor scrubs the ones seen in a run."""

from __future__ import annotations

import json
import pickle

import pytest

from pyirt.core.secrets import MASK, Redactor, Secret, reveal
from tests.helpers import CANARY


def test_every_way_of_printing_a_secret_prints_the_mask() -> None:
    secret = Secret(CANARY, ref="env:CANARY_TOKEN")
    old_style = "%s" % secret  # noqa: UP031 -- the %-formatting path must mask too
    shown = [str(secret), repr(secret), f"{secret}", f"{secret:>50}", old_style, format(secret, "x"),
             str([secret]), str({"k": secret})]
    assert all(CANARY not in text for text in shown)
    assert str(secret) == MASK
    assert repr(secret) == "Secret(env:CANARY_TOKEN)"
    assert reveal(secret) == CANARY and reveal("plain") == "plain"
    with pytest.raises(TypeError):
        json.dumps(secret)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


def test_secrets_compare_by_value_only_with_secrets() -> None:
    assert Secret("abc") == Secret("abc", ref="other")
    assert Secret("abc") != "abc"
    assert len({Secret("abc"), Secret("abc")}) == 1


def test_redactor_masks_registered_values_longest_first_and_patterns() -> None:
    redactor = Redactor([r"(?i)x-api-key: \S+"])
    redactor.add("token")
    redactor.add("token-with-suffix")
    redactor.add("abc")  # too short to be worth masking
    assert redactor("token-with-suffix and token, X-Api-Key: k123 abc") == f"{MASK} and {MASK}, {MASK} abc"
    assert redactor.values == {"token", "token-with-suffix"}
    redactor.add_pattern("secret-[0-9]+")
    assert redactor("secret-42") == MASK


def test_redactor_with_regex_metacharacters_in_values() -> None:
    redactor = Redactor()
    redactor.add("a.b*c(d)[e]")
    assert redactor("x a.b*c(d)[e] axbbbcde") == f"x {MASK} axbbbcde"


def test_redactor_masks_the_quoted_and_json_escaped_forms_of_a_value() -> None:
    value = 'pa\\ss"wo\'rd\n\u00e9'
    redactor = Redactor()
    redactor.add(value)
    assert redactor(f"got {value!r}") in ("got '***'", 'got "***"')
    assert redactor(json.dumps({"v": value})) == '{"v": "***"}'
    assert redactor(json.dumps({"v": value}, ensure_ascii=False)) == '{"v": "***"}'
    assert redactor(value) == MASK
