"""The decisions on traffic splits, as plain data: rollback targets, tags kept, splits checked."""

from __future__ import annotations

from typing import Any

import pytest

from pyirt.actions.cloudrun import split as sp

REVISIONS = [
    {"name": "svc-3-oom", "ready": False, "state": "CONDITION_FAILED", "message": "out of memory",
     "create_time": "2026-01-04T00:00:00.000000Z"},
    {"name": "svc-2-bad", "ready": True, "create_time": "2026-01-03T00:00:00.000000Z"},
    {"name": "svc-1-abc", "ready": True, "create_time": "2026-01-02T00:00:00.000000Z"},
    {"name": "svc-0-old", "ready": True, "create_time": "2026-01-01T00:00:00.000000Z"},
]


def view(*entries: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"traffic": list(entries), "statuses": list(entries) if statuses is None else statuses,
            "latest_ready": "svc-2-bad"}


BAD_DEPLOY = view(sp.entry("svc-2-bad", 100), sp.entry("svc-1-abc", 0, "stable"), sp.entry("svc-2-bad", 0, "canary"))


def test_a_tag_names_its_revision() -> None:
    assert sp.rollback_target("stable", BAD_DEPLOY, REVISIONS) == ("svc-1-abc", "tag stable")


def test_previous_is_the_newest_ready_revision_older_than_the_one_serving_most() -> None:
    split = view(sp.entry("svc-2-bad", 90), sp.entry("svc-0-old", 10))
    assert sp.rollback_target("previous", split, REVISIONS)[0] == "svc-1-abc"


def test_previous_counts_latest_as_the_newest_ready_revision() -> None:
    latest = view(sp.entry(None, 100, latest=True), statuses=[sp.entry("svc-2-bad", 100, latest=True)])
    assert sp.rollback_target("previous", latest, REVISIONS)[0] == "svc-1-abc"


def test_a_revision_that_is_not_ready_is_refused_with_its_reason() -> None:
    with pytest.raises(sp.SplitError, match=r"svc-3-oom is not Ready \(CONDITION_FAILED: out of memory\)"):
        sp.rollback_target("svc-3-oom", BAD_DEPLOY, REVISIONS)


def test_an_unknown_target_lists_the_tags() -> None:
    with pytest.raises(sp.SplitError, match=r"no tag or revision named 'nope' \(tags: canary, stable; 4 revisions\)"):
        sp.rollback_target("nope", BAD_DEPLOY, REVISIONS)


def test_no_older_ready_revision_means_no_previous() -> None:
    with pytest.raises(sp.SplitError, match="no Ready revision is older than svc-0-old"):
        sp.rollback_target("previous", view(sp.entry("svc-0-old", 100)), REVISIONS)


def test_a_rollback_keeps_every_tag_at_zero() -> None:
    split = view(sp.entry("svc-2-bad", 90, "canary"), sp.entry("svc-1-abc", 10, "stable"))
    assert sp.rollback_split(split, "svc-1-abc") == [
        sp.entry("svc-1-abc", 100), sp.entry("svc-2-bad", 0, "canary"), sp.entry("svc-1-abc", 0, "stable")]


def test_a_split_map_resolves_tags_and_keeps_the_other_tags() -> None:
    assert sp.parse_split({"stable": 90, "svc-2-bad": 10}, BAD_DEPLOY, REVISIONS) == [
        sp.entry("svc-1-abc", 90), sp.entry("svc-2-bad", 10),
        sp.entry("svc-1-abc", 0, "stable"), sp.entry("svc-2-bad", 0, "canary")]


def test_a_split_list_is_written_exactly_without_keep_tags() -> None:
    exact = [sp.entry("svc-2-bad", 90, "canary"), sp.entry(None, 10, latest=True)]
    assert sp.parse_split(exact, BAD_DEPLOY, REVISIONS, keep_tags=False) == exact


@pytest.mark.parametrize(("split", "error"), [
    ({"stable": 80}, "add up to 80, not 100"),
    ({"stable": 90, "svc-3-oom": 10}, "svc-3-oom is not Ready"),
    ({"stable": 101}, "from 0 to 100"),
    ({"ghost": 100}, "no tag or revision named 'ghost'"),
    ([{"revision": "svc-1-abc", "percent": 100, "tag": "x"}, {"revision": "svc-2-bad", "tag": "x"}],
     "tag is given twice"),
    ("stable=100", "expected a map"),
])
def test_bad_splits_are_refused(split: Any, error: str) -> None:
    with pytest.raises(sp.SplitError, match=error):
        sp.parse_split(split, BAD_DEPLOY, REVISIONS)


def test_verify_compares_the_served_split_and_tags() -> None:
    want = sp.rollback_split(BAD_DEPLOY, "svc-1-abc")
    assert sp.verify(want, view(*want)) is None
    assert sp.verify(want, BAD_DEPLOY) == "traffic_statuses show svc-2-bad 100%, expected svc-1-abc 100%"
    untagged = view(*want, statuses=[sp.entry("svc-1-abc", 100)])
    assert sp.verify(want, untagged) == "traffic_statuses lack tag(s) canary -> svc-2-bad, stable -> svc-1-abc"


def test_the_same_effect_ignores_how_entries_are_grouped() -> None:
    merged = [sp.entry("svc-1-abc", 100, "stable")]
    apart = [sp.entry("svc-1-abc", 100), sp.entry("svc-1-abc", 0, "stable")]
    assert sp.same_effect(merged, apart, "svc-2-bad")
    assert not sp.same_effect(merged, [sp.entry("svc-1-abc", 100)], "svc-2-bad")


def test_a_tag_on_a_revision_that_is_not_ready_is_refused_naming_the_tag() -> None:
    broken = view(sp.entry("svc-2-bad", 100), sp.entry("svc-3-oom", 0, "next"))
    with pytest.raises(sp.SplitError, match=r"^to: tag next: revision svc-3-oom is not Ready"):
        sp.rollback_target("next", broken, REVISIONS)
