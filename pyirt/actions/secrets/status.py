"""``secrets.status`` and the body of ``irt secrets status``: is every secret rotated on time?

For each configured secret (and environment): the current version and its age against the rotation
policy (``max_age``, default 90 days, the seed's rotation period), the old versions still enabled,
and whether two entries share one value. Values are read in memory and compared by SHA-256 digest;
neither values nor digests appear in the result.

Entries come from the step's ``secrets`` list, or one secret named by the step's own parameters, or
``irt.yaml``: a top-level ``secrets:`` list (and ``audit.secrets``), each entry a map with
``provider``, ``name`` (``secret`` in a runbook), the provider's fields, and optional
``environment`` and ``max_age``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyirt.actions.api import Action, ActionContext
from pyirt.actions.secrets.actions import BACKEND, SECRET_PARAMS
from pyirt.actions.secrets.base import SecretRef, current_of, digest, opened
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.core.durations import parse_duration
from pyirt.errors import ActionError

DEFAULT_MAX_AGE = "90d"
ENTRY_KEYS = {"provider", "name", "secret", "project", "alias", "region", "vault_url", "store", "environment",
              "max_age"}


@dataclass(frozen=True, slots=True)
class Entry:
    params: Mapping[str, Any]
    environment: str
    max_age: float

    @property
    def label(self) -> str:
        ref = SecretRef.from_params(self.params)
        where = f"{ref.project}/" if ref.project else ""
        env = f"{self.environment}: " if self.environment else ""
        return f"{env}{ref.provider}:{where}{ref.name}"


def entries_from(raw: Any, default_max_age: float, where: str) -> list[Entry]:
    """Entries from a list of maps; a malformed one raises ActionError naming ``where[i]``."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ActionError(f"{where}: expected a list of secrets", backend=BACKEND, retryable=False)
    found: list[Entry] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ActionError(f"{where}[{i}]: expected a map with provider and name", backend=BACKEND, retryable=False)
        unknown = sorted(set(map(str, item)) - ENTRY_KEYS)
        if unknown:
            raise ActionError(f"{where}[{i}]: unknown key(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(ENTRY_KEYS))})", backend=BACKEND, retryable=False)
        try:
            max_age = parse_duration(item["max_age"]) if item.get("max_age") is not None else default_max_age
            SecretRef.from_params(item)
        except (ValueError, ActionError) as exc:
            raise ActionError(f"{where}[{i}]: {exc}", backend=BACKEND, retryable=False) from None
        found.append(Entry(dict(item), str(item.get("environment") or ""), max_age))
    return found


def configured(config: Mapping[str, Any], default_max_age: float) -> list[Entry]:
    """The ``secrets:`` list of irt.yaml, then ``audit.secrets``."""
    audit = config.get("audit")
    return (entries_from(config.get("secrets"), default_max_age, "secrets")
            + entries_from(audit.get("secrets") if isinstance(audit, Mapping) else None, default_max_age,
                           "audit.secrets"))


def collect(entries: Sequence[Entry], ctx: ActionContext) -> dict[str, Any]:
    """Read every entry (one failing is reported, not fatal) and judge it."""
    now = time.time()
    rows: list[dict[str, Any]] = []
    digests: dict[bytes, list[int]] = {}
    seen: set[SecretRef] = set()
    for entry in entries:
        row: dict[str, Any] = {"label": entry.label, "environment": entry.environment,
                               "max_age_days": round(entry.max_age / 86400, 2)}
        ref = SecretRef.from_params(entry.params)
        row.update(provider=ref.provider, secret=ref.name)
        try:
            with opened(entry.params, ctx) as store:
                versions = store.list_versions()
                current = current_of(versions)
                if current is None:
                    raise ActionError(f"{ref}: has no current version", backend=BACKEND, retryable=False)
                _, value = store.read(None)
        except ActionError as exc:
            row.update(error=ctx.redact(str(exc)), overdue=None, shares_value_with=[])
            rows.append(row)
            continue
        age = max(0.0, now - current.created)
        row.update(current_version=current.id, age_days=round(age / 86400, 2), overdue=age > entry.max_age,
                   due_in_days=round((entry.max_age - age) / 86400, 2),
                   enabled_old_versions=[v.id for v in versions if not v.current and v.state == "enabled"],
                   versions=[v.view(now) for v in versions[:20]], shares_value_with=[])
        if ref not in seen:  # the same secret listed twice shares nothing with itself
            seen.add(ref)
            digests.setdefault(digest(value), []).append(len(rows))
        rows.append(row)
    shared: list[list[str]] = []
    for indexes in digests.values():
        if len(indexes) > 1:
            labels = [rows[i]["label"] for i in indexes]
            shared.append(labels)
            for i in indexes:
                rows[i]["shares_value_with"] = [label for label in labels if label != rows[i]["label"]]
    overdue = [r["label"] for r in rows if r.get("overdue")]
    errors = [r["label"] for r in rows if r.get("error")]
    return {"secrets": rows, "overdue": overdue, "shared": shared, "errors": errors,
            "ok": not (overdue or shared or errors), "checked": len(rows)}


class Status(Action):
    spec = ActionSpec(
        name="secrets.status",
        summary="For each configured secret and environment: the current version's age against the rotation "
                "policy, old versions still enabled, and values shared between environments (by digest).",
        params=(*(Param(p.name, p.type, doc=p.doc, choices=p.choices) for p in SECRET_PARAMS),
                Param("secrets", "list", doc="entries {provider, name, ...provider fields, environment, max_age}; "
                                             "default: one secret from provider/secret, else irt.yaml's secrets:"),
                Param("environment", "string", doc="the environment of the one secret named by provider/secret"),
                Param("max_age", "duration", default=DEFAULT_MAX_AGE, doc="the rotation policy"),
                Param("expect_version", "string", doc="fail unless the (one) secret's current version is this one"),
                Param("fail_on", "list", default=[],
                      doc="fail the step on these findings: overdue, shared, error (default: report only)")),
        idempotent=True,
        backend=BACKEND,
        outputs=("secrets", "overdue", "shared", "errors", "ok"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        try:
            max_age = parse_duration(params.get("max_age") or DEFAULT_MAX_AGE)
        except ValueError as exc:
            raise ActionError(f"max_age: {exc}", backend=BACKEND, retryable=False) from None
        if params.get("provider"):
            one = {k: v for k, v in params.items() if k in ENTRY_KEYS and v not in (None, "")}
            entries = entries_from([one], max_age, "with")
        elif params.get("secrets") is not None:
            entries = entries_from(params["secrets"], max_age, "secrets")
        else:
            entries = configured(ctx.config, max_age)
        if not entries:
            raise ActionError("no secrets to check: name one (provider, secret), list them (secrets:), or "
                              "configure irt.yaml's secrets: list", backend=BACKEND, retryable=False)
        report = collect(entries, ctx)
        expected = params.get("expect_version")
        if expected not in (None, ""):
            row = report["secrets"][0]
            if row.get("error"):
                raise ActionError(str(row["error"]), backend=BACKEND)
            if str(row.get("current_version")) != str(expected):
                raise ActionError(f"{row['label']}: the current version is {row.get('current_version')}, expected "
                                  f"{expected}", backend=BACKEND)
        fail_on = {str(f) for f in params.get("fail_on") or []}
        findings = (("overdue", "overdue"), ("shared", "shared"), ("error", "errors"))
        problems = [f"{name}: {', '.join(map(str, report[key]))}" for name, key in findings
                    if name in fail_on and report[key]]
        if problems:
            raise ActionError("secrets: " + "; ".join(problems), backend=BACKEND, retryable=False)
        return report

    def describe(self, params: Mapping[str, Any]) -> str:
        which = f"{params.get('provider')} secret {params.get('secret')}" if params.get("provider") else \
            "the configured secrets"
        return (f"check {which}: age against {params.get('max_age') or DEFAULT_MAX_AGE}, enabled old versions, "
                "values shared between environments")


def _age(days: float) -> str:
    if days >= 1:
        return f"{days:.0f}d"
    return f"{days * 24:.0f}h" if days * 24 >= 1 else "<1h"


def render_table(report: Mapping[str, Any]) -> str:
    """The report for people: one line per secret, then the findings."""
    lines = []
    for row in report["secrets"]:
        if row.get("error"):
            lines.append(f"ERROR    {row['label']}: {row['error']}")
            continue
        state = "OVERDUE " if row["overdue"] else "SHARED  " if row["shares_value_with"] else "ok      "
        age = _age(row["age_days"])
        old = row["enabled_old_versions"]
        extra = f"; old versions enabled: {', '.join(old)}" if old else ""
        shared = f"; SAME VALUE as {', '.join(row['shares_value_with'])}" if row["shares_value_with"] else ""
        lines.append(f"{state}{row['label']}: version {row['current_version']}, {age} old "
                     f"(policy {row['max_age_days']:g}d){extra}{shared}")
    summary = (f"{report['checked']} checked, {len(report['overdue'])} overdue, {len(report['shared'])} shared "
               f"value(s), {len(report['errors'])} error(s)")
    return "\n".join([*lines, summary])
